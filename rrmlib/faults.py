"""The fault suite's hook: a run killed on purpose at a named point (tests/faults/test_kills.py).

It lives in the library because the points are inside the library's own steps (a model just
loaded, a batch generated but not committed, a file half written), and does nothing unless the
test's environment variable is set.
"""
from __future__ import annotations

import os
import signal

KILL_AT = "RRM_TEST_KILL_AT"
KILL_SCOPE = "RRM_TEST_KILL_SCOPE"
_reached: dict[str, int] = {}


def kill_point(name: str) -> None:
    """A test hook: SIGKILL at a named point of a run, for the fault suite (tests/faults/test_kills.py).

    Does nothing unless the environment sets ``RRM_TEST_KILL_AT=<point>[:<n>]``; then the n-th
    time (default 1) this process reaches ``<point>`` it is killed with SIGKILL, on the spot.
    With ``RRM_TEST_KILL_SCOPE=run`` (the default) the process that started this notebook kernel
    (``JPY_PARENT_PID``: papermill, ``rrm run``, ``rrm sweep``) is killed first, so the whole run
    dies at once and no cleanup code runs anywhere, as after ``kill -9`` or a power cut;
    ``RRM_TEST_KILL_SCOPE=process`` kills this process alone (a kernel dies, its parent lives).

    The points: ``model_load`` (the judge's model loaded, nothing stored yet: ``Judge.from_params``),
    ``mid_batch`` (a batch generated and not yet committed: ``CachedBackend.complete``; the same state as a
    kill anywhere inside that batch's generation), ``after_commit`` (a batch just committed:
    ``JudgmentStore.put_many``), ``write_results`` / ``write_metrics`` / ``write_meta`` (half of the
    file's bytes written to its temporary file: ``rrmlib.runs``).
    """
    spec = os.environ.get(KILL_AT)
    if not spec:
        return
    point, _, nth = spec.partition(":")
    if point != name:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] != int(nth or 1):
        return
    if os.environ.get(KILL_SCOPE, "run") == "run" and os.environ.get("JPY_PARENT_PID"):
        os.kill(int(os.environ["JPY_PARENT_PID"]), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)
