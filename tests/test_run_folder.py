"""A run folder left by a killed run: its temporary files go when the folder is next used, unless
the process that wrote them may still be writing. The writer is named by the pid in the file's
name; real processes are made here: one alive, one a zombie (exited, not reaped: what a killed
kernel is until its orphan is reaped, which in a container can take a while), and a live process
that started after the file was written (its pid reused)."""
import os
import subprocess
import sys
import time

import pytest

from rrmlib.runs import RunDir

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


def leave_tmp(folder, pid, age_s=0.0):
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".meta.json.{pid}.rrm-tmp"
    tmp.write_text("{}")
    if age_s:
        then = time.time() - age_s
        os.utime(tmp, (then, then))
    return tmp


def test_a_live_writers_file_stays_a_dead_or_zombie_or_reused_pids_goes(tmp_path):
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 30
        while not open(f"/proc/{zombie.pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
            assert time.monotonic() < deadline, "the child did not exit"
            time.sleep(0.05)
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout.strip()
        folder = tmp_path / "run"
        kept = leave_tmp(folder, live.pid)
        gone = [leave_tmp(folder, zombie.pid).name, leave_tmp(folder, dead).name,
                # written an hour before the live process started: not its file
                leave_tmp(folder / "other", live.pid, age_s=3600)]
        RunDir(folder, "pairwise", {})
        RunDir(folder / "other", "pairwise", {})
        assert kept.exists()
        assert not any((folder / name).exists() for name in gone[:2]) and not gone[2].exists()
    finally:
        live.kill()
        live.wait()
        zombie.wait()
