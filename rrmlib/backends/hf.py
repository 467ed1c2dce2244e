"""transformers backend: batched generation on CPU or CUDA.

Sampling is done by our own logits processor: temperature and top-p, then one token drawn per
row by inverse-CDF sampling (the first token whose cumulative probability passes a uniform
draw: an exact draw from the filtered distribution). The uniform of a row at a step is a hash
of (the request's seed, the step), so a request's text depends on its own seed and step only,
not on which batch or position it lands in, and a resumed run regenerates the same text; and
the whole step costs one uniform per row instead of one per vocabulary entry.
"""
from __future__ import annotations

import os

from rrmlib import models
from rrmlib.backends.base import Backend, Completion, RendersChatTemplate, Request

# Part of the store key (``numerics``): another sampler draws other texts from the same seed.
SAMPLER = "icdf-v1"

_M32 = 0xFFFFFFFF


def _fmix32(x: int) -> int:
    """MurmurHash3's finaliser: a bijection of 32-bit integers that mixes every bit."""
    x &= _M32
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & _M32
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & _M32
    return x ^ (x >> 16)


def step_uniform(seed: int, step: int) -> float:
    """A uniform in (0, 1) from (seed, step) alone, with 53 random bits (two hashed halves);
    plain integer arithmetic, so every machine and device agrees on it."""
    a = _fmix32(_fmix32(seed) ^ _fmix32(2 * step + 0x9E3779B9))
    b = _fmix32(_fmix32(seed ^ 0x5BD1E995) ^ _fmix32(2 * step + 1 + 0x9E3779B9))
    return ((a >> 5) * 67108864 + (b >> 6) + 0.5) / 9007199254740992.0


class _SeededSampler:
    """Logits processor: temperature, top-p, then one inverse-CDF draw per row from that row's
    own (seed, step) uniform; returns scores that make greedy decoding pick the drawn token."""

    def __init__(self, temperature: float, top_p: float, seeds: list[int]):
        self.temperature, self.top_p, self.seeds, self.step = temperature, top_p, list(seeds), 0

    def __call__(self, input_ids, scores):
        import torch

        scores = scores.float() / self.temperature
        if self.top_p < 1.0:
            sorted_scores, idx = torch.sort(scores, descending=True, dim=-1)
            cum = sorted_scores.softmax(-1).cumsum(-1)
            # Drop a token once the mass before it already reaches top_p (always keep the first).
            drop_sorted = (cum - sorted_scores.softmax(-1)) >= self.top_p
            drop = torch.zeros_like(drop_sorted).scatter(-1, idx, drop_sorted)
            scores = scores.masked_fill(drop, float("-inf"))
        weights = (scores - scores.amax(dim=-1, keepdim=True)).exp_()  # unnormalised probabilities
        cdf = weights.double().cumsum_(dim=-1)
        u = torch.tensor([step_uniform(s, self.step) for s in self.seeds], dtype=torch.float64, device=cdf.device)
        # The first token whose cumulative weight exceeds u * total: never a zero-weight token.
        pick = torch.searchsorted(cdf, (u * cdf[:, -1]).unsqueeze(-1), right=True).clamp_(max=cdf.shape[-1] - 1)
        self.step += 1
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(-1, pick, 0.0)


class _StepReporter:
    """Logits processor that changes nothing and reports each generation step to ``hook``."""

    def __init__(self, hook, rows: int, budget: int):
        self.hook, self.rows, self.budget, self.step = hook, rows, budget, 0

    def __call__(self, input_ids, scores):
        self.step += 1
        self.hook(self.rows, self.step, self.budget)
        return scores


class HFBackend(RendersChatTemplate, Backend):
    name = "hf"
    step_hook = None  # set by the judge: called (rows, step, budget) at each generation step

    def __init__(self, model: str | None = None, *, device: str = "auto", dtype: str = "auto",
                 batch_size: int = 16, max_batch_tokens: int | str | None = "auto", sort_by_length: bool = True):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path, model_id, revision = models.resolve(model)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if dtype == "auto":
            dtype = "bfloat16" if torch.device(device).type == "cuda" else "float32"
        hub_revision = None
        if not os.path.isdir(path):
            # A branch name ("main") moves; the commit names the weights: load that very commit.
            revision = hub_revision = models.hub_commit(path, revision)
        tokenizer = AutoTokenizer.from_pretrained(path, revision=hub_revision)
        loaded = AutoModelForCausalLM.from_pretrained(path, revision=hub_revision, dtype=getattr(torch, dtype))
        self._setup(loaded.to(device), tokenizer, model_id=model_id, revision=revision, batch_size=batch_size,
                    max_batch_tokens=max_batch_tokens, sort_by_length=sort_by_length)

    @classmethod
    def from_model(cls, model, tokenizer, *, model_id: str, revision: str = "", batch_size: int = 16,
                   max_batch_tokens: int | str | None = "auto", sort_by_length: bool = True) -> "HFBackend":
        """A backend over a model already in memory (on its device, in its dtype)."""
        self = cls.__new__(cls)
        self._setup(model, tokenizer, model_id=model_id, revision=revision, batch_size=batch_size,
                    max_batch_tokens=max_batch_tokens, sort_by_length=sort_by_length)
        return self

    def _setup(self, model, tokenizer, *, model_id, revision, batch_size, max_batch_tokens, sort_by_length):
        self.model, self.tokenizer = model.eval(), tokenizer
        self.model_id, self.revision = model_id, revision
        self.device, self.dtype = model.device, model.dtype
        self.numerics = f"{self.device.type}:{str(self.dtype).replace('torch.', '')}:{SAMPLER}"
        config = getattr(model.config, "text_config", model.config)
        self.context_length = getattr(config, "max_position_embeddings", None)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.batch_size = batch_size
        # Padding and the KV cache grow with batch × longest sequence: cap their product so long
        # prompts and long thoughts get smaller batches instead of running out of memory.
        self.max_batch_tokens = self._fit_batch_tokens() if max_batch_tokens == "auto" else max_batch_tokens
        eos = self.model.generation_config.eos_token_id
        eos = eos if isinstance(eos, list) else [eos] if eos is not None else []
        self.eos_ids = (set(eos) | {self.tokenizer.eos_token_id}) - {None}
        # generate() fills unset fields from the model's own generation_config (a repo's
        # repetition_penalty, top_k, ...): replace it, so only our sampling settings apply.
        from transformers import GenerationConfig

        self.model.generation_config = GenerationConfig(eos_token_id=sorted(self.eos_ids),
                                                        pad_token_id=self.tokenizer.pad_token_id)
        # Sorting by prompt length pads less; off only to measure what it saves (benchmarks/).
        self.sort_by_length = sort_by_length

    def _fit_batch_tokens(self, share: float = 0.7) -> int | None:
        """On CUDA, how many tokens of KV cache fit in ``share`` of the free memory (None on the
        CPU, where the batch size alone bounds the batch)."""
        import torch

        if self.device.type != "cuda":
            return None
        c = self.model.config
        c = getattr(c, "text_config", c)
        head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
        kv_heads = getattr(c, "num_key_value_heads", None) or c.num_attention_heads
        per_token = 2 * c.num_hidden_layers * kv_heads * head_dim * self.model.dtype.itemsize
        # Logits over the vocabulary (float32, per sequence) and activations need room too: count
        # them as a few tokens' worth each, which the share leaves spare.
        free, _ = torch.cuda.mem_get_info(self.device)
        return max(1024, int(free * share // per_token))

    # -- generation ---------------------------------------------------------------------
    def _batches(self, order: list[int], lengths: list[int], max_new: int):
        """Indices in batches of similar length; each batch within batch_size and the token cap."""
        batch, longest = [], 0
        for i in order:
            longest_if = max(longest, lengths[i])
            cap = self.max_batch_tokens
            if batch and (len(batch) >= self.batch_size or (cap and (len(batch) + 1) * (longest_if + max_new) > cap)):
                yield batch
                batch, longest_if = [], lengths[i]
            batch.append(i)
            longest = longest_if
        if batch:
            yield batch

    def stream(self, requests: list[Request]):
        import torch
        from transformers import GenerationConfig, LogitsProcessorList

        texts = [self.prompt_text(r.messages) for r in requests]
        ids = [self.tokenizer(t, add_special_tokens=False)["input_ids"] + list(r.continuation)
               for t, r in zip(texts, requests)]
        lengths = [len(x) for x in ids]
        # Group by sampling settings (one generate call takes one config), then sort by length
        # so each batch pads little; every completion goes back under its caller's index.
        groups: dict = {}
        for i, r in enumerate(requests):
            groups.setdefault(r.sampling, []).append(i)
        for sampling, members in groups.items():
            if self.sort_by_length:
                members.sort(key=lambda i: (lengths[i], i))
            for batch in self._batches(members, lengths, sampling.max_new_tokens):
                enc = self.tokenizer.pad({"input_ids": [ids[i] for i in batch]}, return_tensors="pt")
                enc = {k: v.to(self.device) for k, v in enc.items()}
                config = GenerationConfig(
                    do_sample=False, max_new_tokens=sampling.max_new_tokens,
                    pad_token_id=self.tokenizer.pad_token_id, eos_token_id=sorted(self.eos_ids))
                processors = LogitsProcessorList()
                if self.step_hook is not None:
                    processors.append(_StepReporter(self.step_hook, len(batch), sampling.max_new_tokens))
                if sampling.temperature > 0:
                    processors.append(_SeededSampler(sampling.temperature, sampling.top_p,
                                                     [requests[i].request_seed() for i in batch]))
                with torch.inference_mode():
                    gen = self.model.generate(**enc, generation_config=config, logits_processor=processors)
                new = gen[:, enc["input_ids"].shape[1]:].tolist()
                yield [(i, self._completion(toks, lengths[i], sampling.max_new_tokens)) for i, toks in zip(batch, new)]

    def _completion(self, toks: list[int], prompt_tokens: int, max_new: int) -> Completion:
        n, stopped = len(toks), False
        for j, t in enumerate(toks):
            if t in self.eos_ids:
                n, stopped = j + 1, True
                break
        text = self.tokenizer.decode(toks[:n], skip_special_tokens=True)
        finish = "stop" if stopped or n < max_new else "length"
        return Completion(text=text, prompt_tokens=prompt_tokens, completion_tokens=n, finish_reason=finish)

    def describe(self) -> dict:
        return {**super().describe(), "device": str(self.device), "dtype": str(self.dtype).replace("torch.", ""),
                "batch_size": self.batch_size, "max_batch_tokens": self.max_batch_tokens}
