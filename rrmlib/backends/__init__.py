"""Backends, chosen by name; each is imported only when asked for (vllm never on CPU paths)."""
from __future__ import annotations

import importlib

from rrmlib.backends.base import Backend, Completion, Request, Sampling

_BACKENDS = {
    "hf": "rrmlib.backends.hf:HFBackend",
    "openai": "rrmlib.backends.openai_backend:OpenAIBackend",
    "vllm": "rrmlib.backends.vllm_backend:VLLMBackend",
    # scores, not text: a scalar reward model, judged by rrmlib.judge.ScalarJudge
    "classifier": "rrmlib.backends.classifier:ClassifierBackend",
}


def make_backend(name: str, **options) -> Backend:
    """A backend by name (``hf``, ...), built with ``options``."""
    if name not in _BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {sorted(_BACKENDS)}")
    module, cls = _BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), cls)(**options)


__all__ = ["Backend", "Completion", "Request", "Sampling", "make_backend"]
