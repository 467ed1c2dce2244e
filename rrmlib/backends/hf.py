"""transformers backend: batched generation on CPU or CUDA.

Sampling is done by our own logits processor: temperature and top-p, then one token drawn per
row by inverse-CDF sampling (the first token whose cumulative probability passes a uniform
draw: an exact draw from the filtered distribution). The uniform of a row at a step is a hash
of (the request's seed, the step), so a request's text depends on its own seed and step only,
not on which batch or position it lands in, and a resumed run regenerates the same text; and
the whole step costs one uniform per row instead of one per vocabulary entry.

Two ways to batch (``batching=``):

- ``"continuous"`` (the default): a decoding loop of our own over a KV cache (transformers'
  ``DynamicCache``) for at most ``batch_size`` live sequences. A sequence that ends leaves the
  batch at once (its rows are dropped from the cache) and waiting requests are prefilled and
  merged into the freed slots (caches left-padded to a common length, with the attention mask and
  position ids that say so), so no slot waits for the batch's longest thought; each completion
  streams to the caller as soon as it ends.
- ``"static"``: length-sorted batches through ``model.generate``; a batch ends when its longest
  sequence does, and ended sequences keep computing padding until then.

Both draw each token from the same (seed, step) uniform through the same sampler, so a request's
text is the same in both (texts equal token for token: ``tests/test_hf_continuous.py``); the store
key (``numerics``) does not name the batching. Why not transformers' own continuous batching
(``generate_batch``, paged attention): see ``HFBackend._stream_continuous``.
"""
from __future__ import annotations

import inspect
import warnings

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


def _draw(scores, temperature: float, top_p: float, uniforms: list[float]):
    """Temperature, top-p, then one inverse-CDF draw per row from that row's uniform: the drawn
    token ids, shape (rows, 1). The sampler ``icdf-v1``: both batching modes draw through here."""
    import torch

    scores = scores.float() / temperature
    if top_p < 1.0:
        sorted_scores, idx = torch.sort(scores, descending=True, dim=-1)
        cum = sorted_scores.softmax(-1).cumsum(-1)
        # Drop a token once the mass before it already reaches top_p (always keep the first).
        drop_sorted = (cum - sorted_scores.softmax(-1)) >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, idx, drop_sorted)
        scores = scores.masked_fill(drop, float("-inf"))
    weights = (scores - scores.amax(dim=-1, keepdim=True)).exp_()  # unnormalised probabilities
    cdf = weights.double().cumsum_(dim=-1)
    u = torch.tensor(uniforms, dtype=torch.float64, device=cdf.device)
    # The first token whose cumulative weight exceeds u * total: never a zero-weight token.
    return torch.searchsorted(cdf, (u * cdf[:, -1]).unsqueeze(-1), right=True).clamp_(max=cdf.shape[-1] - 1)


class _SeededSampler:
    """Logits processor: temperature, top-p, then one inverse-CDF draw per row from that row's
    own (seed, step) uniform; returns scores that make greedy decoding pick the drawn token."""

    def __init__(self, temperature: float, top_p: float, seeds: list[int]):
        self.temperature, self.top_p, self.seeds, self.step = temperature, top_p, list(seeds), 0

    def __call__(self, input_ids, scores):
        import torch

        pick = _draw(scores, self.temperature, self.top_p, [step_uniform(s, self.step) for s in self.seeds])
        self.step += 1
        out = torch.full(scores.shape, float("-inf"), dtype=torch.float32, device=scores.device)
        return out.scatter_(-1, pick, 0.0)


class _StepReporter:
    """Logits processor that changes nothing and reports each generation step to ``hook``."""

    def __init__(self, hook, rows: int, budget: int):
        self.hook, self.rows, self.budget, self.step = hook, rows, budget, 0

    def __call__(self, input_ids, scores):
        self.step += 1
        self.hook(self.rows, self.step, self.budget)
        return scores


class _Live:
    """The sequences being decoded in continuous batching: the request index and tokens so far of
    each cache row, their KV cache (transformers' ``DynamicCache``; all rows left-padded to one
    length) and attention mask (1 where a column holds one of the row's tokens)."""

    def __init__(self):
        self.rows: list[int] = []
        self.toks: list[list[int]] = []
        self.cache = None
        self.mask = None

    def merge(self, cache, mask, rows: list[int], toks: list[list[int]]) -> None:
        """Add freshly prefilled sequences: whichever side is shorter is left-padded (zero keys and
        values, mask 0) to the other's length, then the rows are stacked."""
        import torch
        from torch.nn.functional import pad

        self.rows, self.toks = self.rows + rows, self.toks + toks
        if self.cache is None:
            self.cache, self.mask = cache, mask
            return
        width = max(self.mask.shape[1], mask.shape[1])
        a, b = width - self.mask.shape[1], width - mask.shape[1]
        self.mask = torch.cat([pad(self.mask, (a, 0)), pad(mask, (b, 0))])
        for mine, new in zip(self.cache.layers, cache.layers):
            mine.keys = torch.cat([pad(mine.keys, (0, 0, a, 0)), pad(new.keys, (0, 0, b, 0))])
            mine.values = torch.cat([pad(mine.values, (0, 0, a, 0)), pad(new.values, (0, 0, b, 0))])

    def drop(self, gone: list[int]) -> None:
        """Remove the rows at positions ``gone`` from the batch and its cache, then the leading
        columns no remaining row uses (the cache is then as long as its longest sequence)."""
        import torch

        keep = [k for k in range(len(self.rows)) if k not in set(gone)]
        self.rows, self.toks = [self.rows[k] for k in keep], [self.toks[k] for k in keep]
        if not keep:
            self.cache = self.mask = None
            return
        idx = torch.tensor(keep, device=self.mask.device)
        mask = self.mask[idx]
        first = int(mask.any(0).nonzero()[0])
        self.mask = mask[:, first:]
        for layer in self.cache.layers:
            layer.keys = layer.keys[idx, :, first:]
            layer.values = layer.values[idx, :, first:]


BATCHING = ("continuous", "static")

# Counters of the work done (benchmarks/hf_batching_continuous.py reads them): forwards; row-steps
# (sequences computed per forward, summed; a prefill counts its rows once); tokens kept; in decode
# forwards, key/value columns attended (rows x columns) and those holding a live row's own tokens;
# the largest batch and the largest cache (rows x columns) held.
STATS = ("prefill_forwards", "decode_forwards", "row_steps", "tokens", "kv_cells", "kv_real", "max_rows",
         "max_cells")


class HFBackend(RendersChatTemplate, Backend):
    name = "hf"
    step_hook = None  # set by the judge: called (rows, step, budget) at each generation step

    def __init__(self, model: str | None = None, *, device: str = "auto", dtype: str = "auto",
                 batch_size: int = 16, max_batch_tokens: int | str | None = "auto", sort_by_length: bool = True,
                 batching: str = "continuous", special_tokens: str = "paper"):
        loaded, tokenizer, model_id, revision = models.load_torch(model, "AutoModelForCausalLM", device, dtype)
        self._setup(loaded, tokenizer, model_id=model_id, revision=revision, batch_size=batch_size,
                    max_batch_tokens=max_batch_tokens, sort_by_length=sort_by_length, batching=batching,
                    special_tokens=special_tokens)

    @classmethod
    def from_model(cls, model, tokenizer, *, model_id: str, revision: str = "", batch_size: int = 16,
                   max_batch_tokens: int | str | None = "auto", sort_by_length: bool = True,
                   batching: str = "continuous", special_tokens: str = "paper") -> "HFBackend":
        """A backend over a model already in memory (on its device, in its dtype)."""
        self = cls.__new__(cls)
        self._setup(model, tokenizer, model_id=model_id, revision=revision, batch_size=batch_size,
                    max_batch_tokens=max_batch_tokens, sort_by_length=sort_by_length, batching=batching,
                    special_tokens=special_tokens)
        return self

    def _setup(self, model, tokenizer, *, model_id, revision, batch_size, max_batch_tokens, sort_by_length,
               batching="continuous", special_tokens="paper"):
        if batching not in BATCHING:
            raise ValueError(f"batching must be one of {BATCHING}, got {batching!r}")
        self.model, self.tokenizer = model.eval(), tokenizer
        self.model_id, self.revision = model_id, revision
        self.device, self.dtype = model.device, model.dtype
        self.numerics = f"{self.device.type}:{str(self.dtype).replace('torch.', '')}:{SAMPLER}"
        self.numerics += self._set_special_tokens(special_tokens)
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
        self.stats = dict.fromkeys(STATS, 0)
        self.batching = batching
        # Why continuous batching cannot run on this model (None: it can); then it falls back to static.
        self.refill_problem = self._refill_problem()
        if batching == "continuous" and self.refill_problem:
            warnings.warn(f"hf backend: continuous batching is not available for this model ({self.refill_problem}); "
                          f"using static batches", stacklevel=3)
            self.batching = "static"

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
        texts = [self.prompt_text(r.messages) for r in requests]
        ids = [self.prompt_ids(t) + list(r.continuation) for t, r in zip(texts, requests)]
        lengths = [len(x) for x in ids]
        # Group by sampling settings (one batch takes one config), then sort by length so each
        # batch pads little; every completion goes back under its caller's index.
        groups: dict = {}
        for i, r in enumerate(requests):
            groups.setdefault(r.sampling, []).append(i)
        # _setup chose the mode (static where this model cannot refill slots, with a warning)
        run = self._stream_continuous if self.batching == "continuous" else self._stream_static
        for sampling, members in groups.items():
            if self.sort_by_length:
                members.sort(key=lambda i: (lengths[i], i))
            yield from run(requests, members, ids, lengths, sampling)

    def _stream_static(self, requests, members, ids, lengths, sampling):
        """Batches through ``model.generate``: each batch streams back when its longest sequence ends."""
        import torch
        from transformers import GenerationConfig, LogitsProcessorList

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
            width = enc["input_ids"].shape[1]
            new = gen[:, width:].tolist()
            done = [(i, self._completion(toks, lengths[i], sampling.max_new_tokens)) for i, toks in zip(batch, new)]
            self._count_static(width, len(new[0]), [lengths[i] for i in batch], [c.completion_tokens for _, c in done])
            yield done

    def _count_static(self, width: int, steps: int, lengths: list[int], made: list[int]) -> None:
        """The work one ``generate`` call did (see STATS): every row runs all ``steps`` forwards."""
        s, rows = self.stats, len(lengths)
        s["prefill_forwards"] += 1
        s["decode_forwards"] += steps - 1
        s["row_steps"] += rows * steps
        s["tokens"] += sum(made)
        s["kv_cells"] += rows * ((steps - 1) * width + steps * (steps - 1) // 2)
        s["kv_real"] += sum((n - 1) * n0 + n * (n - 1) // 2 for n0, n in zip(lengths, made))
        s["max_rows"] = max(s["max_rows"], rows)
        s["max_cells"] = max(s["max_cells"], rows * (width + steps))

    # -- continuous batching ------------------------------------------------------------
    def _stream_continuous(self, requests, members, ids, lengths, sampling):
        """One decoding loop for the whole group: at most ``batch_size`` live sequences (and, with
        ``max_batch_tokens``, rows × (longest prompt + max_new_tokens) within it, as a static batch);
        a sequence that ends is dropped from the batch and its cache and streams back at once, and
        waiting requests (in length order) are prefilled together and merged into the freed slots.

        Each token is drawn as in the static mode: greedy is the argmax of the float32 logits, sampling
        is ``_draw`` with the uniform of (the request's seed, its own step); positions count each
        row's own tokens (padding excluded), as ``generate``'s do; the model's own forward and
        attention (sdpa here) with a left-padding mask. So texts equal the static mode's.

        What it gives up against a paged engine (vLLM, transformers' ``generate_batch``): the
        cache is ``DynamicCache``, which copies itself at every step (as ``generate``'s does), and
        a row leaving or a joiner's left-padding costs one more copy; joiners are prefilled in a
        forward of their own, while the live rows wait that long (no chunked prefill mixed with
        decoding); a joiner is padded to the batch's current length, and the padding is attended
        (the benchmark reports its share); no CUDA graphs.

        Why not transformers' own continuous batching (``generate_batch``,
        ``init_continuous_batching``; 5.24 installed here)? It does run on the CPU (its default
        padding of key/value reads to 16,384 made 6 prompts × 20 tokens of a 2-layer model take
        6 s; tuned, 0.2 s), and its greedy tokens matched ``generate``'s on that check. But: its
        logits processors come from the generation config (no public way to add ours, nor a hook
        per step); a per-request processor gets one int32 per request and step, and our uniforms
        have 53 bits (a side channel of float64s would not survive its CUDA graphs); it attends
        over packed sequences in paged blocks, another code path from ``generate``'s, so equal
        texts between the modes would be luck rather than construction; and the API is marked
        experimental and changed across the transformers versions this project allows (>= 4.56).
        """
        from collections import deque

        max_new = sampling.max_new_tokens
        seeds = {i: requests[i].request_seed() for i in members} if sampling.temperature > 0 else {}
        waiting, live = deque(members), _Live()
        while waiting or live.rows:
            joiners = self._admit(waiting, live, lengths, max_new)
            if joiners:
                self._prefill_into(live, joiners, ids, sampling, seeds)
                self._report_step(live, max_new)
                if done := self._retire(live, max_new):
                    yield [(i, self._completion(toks, lengths[i], max_new)) for i, toks in done]
            if not live.rows:
                continue
            self._decode_step(live, sampling, seeds)
            self._report_step(live, max_new)
            if done := self._retire(live, max_new):
                yield [(i, self._completion(toks, lengths[i], max_new)) for i, toks in done]

    def _report_step(self, live: _Live, max_new: int) -> None:
        """Progress inside the batch: the live rows and the longest one's tokens so far."""
        if self.step_hook is not None and live.rows:
            self.step_hook(len(live.rows), max(map(len, live.toks)), max_new)

    def _admit(self, waiting, live: _Live, lengths: list[int], max_new: int) -> list[int]:
        """Waiting requests that fit beside the live ones, in order (as ``_batches`` fills a batch)."""
        joiners, cap = [], self.max_batch_tokens
        longest = max((lengths[i] for i in live.rows), default=0)
        while waiting:
            n, longest_if = len(live.rows) + len(joiners) + 1, max(longest, lengths[waiting[0]])
            if n > 1 and (n > self.batch_size or (cap and n * (longest_if + max_new) > cap)):
                break
            joiners.append(waiting.popleft())
            longest = longest_if
        return joiners

    def _prefill_into(self, live: _Live, joiners: list[int], ids, sampling, seeds) -> None:
        import torch

        with torch.inference_mode():
            enc = self.tokenizer.pad({"input_ids": [ids[i] for i in joiners]}, return_tensors="pt")
            input_ids, mask = enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device)
            position_ids = (mask.cumsum(-1) - 1).masked_fill_(mask == 0, 0)
            cache = self._new_cache()
            logits = self._forward(input_ids, mask, position_ids, cache, past=0)
            picks = self._pick(logits, sampling, [seeds.get(i) for i in joiners], [0] * len(joiners))
            live.merge(cache, mask, joiners, [[t] for t in picks])
        s = self.stats
        s["prefill_forwards"] += 1
        s["row_steps"] += len(joiners)
        s["tokens"] += len(joiners)
        s["max_rows"] = max(s["max_rows"], len(live.rows))
        s["max_cells"] = max(s["max_cells"], live.mask.numel())

    def _decode_step(self, live: _Live, sampling, seeds) -> None:
        import torch

        with torch.inference_mode():
            last = torch.tensor([[t[-1]] for t in live.toks], device=self.device)
            position_ids = live.mask.sum(-1, keepdim=True)  # each row's own tokens so far
            past = live.mask.shape[1]
            live.mask = torch.cat([live.mask, live.mask.new_ones((len(live.rows), 1))], dim=-1)
            logits = self._forward(last, live.mask, position_ids, live.cache, past=past)
            picks = self._pick(logits, sampling, [seeds.get(i) for i in live.rows], [len(t) for t in live.toks])
            real = int(live.mask.sum())
        for toks, t in zip(live.toks, picks):
            toks.append(t)
        s = self.stats
        s["decode_forwards"] += 1
        s["row_steps"] += len(picks)
        s["tokens"] += len(picks)
        s["kv_cells"] += live.mask.numel()
        s["kv_real"] += real
        s["max_cells"] = max(s["max_cells"], live.mask.numel())

    def _retire(self, live: _Live, max_new: int) -> list[tuple[int, list[int]]]:
        """Drop the rows that have ended (end of sequence, or max_new tokens): (request, tokens)."""
        import torch

        gone = [k for k, t in enumerate(live.toks) if t[-1] in self.eos_ids or len(t) >= max_new]
        out = [(live.rows[k], live.toks[k]) for k in gone]
        if gone:
            with torch.inference_mode():
                live.drop(gone)
        return out

    def _pick(self, logits, sampling, seeds: list, steps: list[int]) -> list[int]:
        if sampling.temperature > 0:
            pick = _draw(logits, sampling.temperature, sampling.top_p,
                         [step_uniform(s, k) for s, k in zip(seeds, steps)])
        else:
            pick = logits.argmax(-1)  # as generate's greedy step
        return pick.view(-1).tolist()

    def _forward(self, input_ids, mask, position_ids, cache, past: int):
        """The model's forward on new tokens over ``cache``: the float32 logits of each row's last
        position. The mask is left out where nothing is padded (as ``generate`` does)."""
        import torch

        kw = {self._cache_kw: cache, "use_cache": True, "position_ids": position_ids}
        if not bool(mask.all()):
            kw["attention_mask"] = mask
        if self._logits_to_keep:
            kw["logits_to_keep"] = 1
        if self._cache_position:  # transformers < 5 takes the new tokens' cache positions
            kw["cache_position"] = torch.arange(past, past + input_ids.shape[1], device=input_ids.device)
        return self.model(input_ids=input_ids, **kw).logits[:, -1, :].float()

    def _new_cache(self):
        from transformers import DynamicCache

        try:
            return DynamicCache(config=self.model.config)
        except TypeError:
            return DynamicCache()

    def _refill_problem(self) -> str | None:
        """Why continuous batching cannot run on this model (None when it can): it pads and merges
        plain per-layer key/value tensors, and needs a decoder-only model that takes position ids."""
        try:
            from transformers.cache_utils import DynamicLayer
        except ImportError:
            return "this transformers has no per-layer DynamicCache (needs transformers >= 4.56)"
        if getattr(self.model.config, "is_encoder_decoder", False):
            return "an encoder-decoder model"
        # The first forward along the class's bases that names its arguments (a wrapper's forward
        # may pass **kwargs on to its base class's).
        params = inspect.signature(self.model.forward).parameters
        for cls in type(self.model).__mro__:
            if "forward" in vars(cls):
                named = inspect.signature(vars(cls)["forward"]).parameters
                if "cache" in named or "past_key_values" in named:
                    params = named
                    break
        if "position_ids" not in params:
            return "its forward takes no position_ids"
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._logits_to_keep = "logits_to_keep" in params
        self._cache_position = "cache_position" in params
        layers = getattr(self._new_cache(), "layers", None)
        if not layers:
            return "its DynamicCache has no per-layer tensors to merge"
        odd = sorted({type(layer).__name__ for layer in layers if type(layer) is not DynamicLayer})
        if odd:
            return f"its cache has {', '.join(odd)} layers (sliding-window or other attention), not plain ones"
        return None

    def _completion(self, toks: list[int], prompt_tokens: int, max_new: int) -> Completion:
        n, stopped = len(toks), False
        for j, t in enumerate(toks):
            if t in self.eos_ids:
                n, stopped = j + 1, True
                break
        text = self.tokenizer.decode(toks[:n], skip_special_tokens=True)
        finish = "stop" if stopped or n < max_new else "length"
        return Completion(text=text, prompt_tokens=prompt_tokens, completion_tokens=n, finish_reason=finish)

    # SmolLM2-135M-Instruct generating at batch 16 on the project's 2-core CPU machine, as measured
    # there: 70 tokens/s; another model's rate is scaled by its size.
    CPU_TOKENS_PER_SECOND_135M = 70.0

    def _cpu_rate(self) -> float:
        params = sum(p.numel() for p in self.model.parameters())
        return self.CPU_TOKENS_PER_SECOND_135M * 135e6 / max(params, 1.0)

    def estimate_seconds(self, requests) -> float | None:
        if self.device.type != "cpu":
            return None
        return sum(r.sampling.max_new_tokens for r in requests) / self._cpu_rate()

    def speed_note(self) -> str:
        params = sum(p.numel() for p in self.model.parameters())
        return f"on this CPU, at the ~{self._cpu_rate():.0f} tokens/s a {params / 1e6:.0f}M-parameter model manages"

    def describe(self) -> dict:
        return {**super().describe(), "device": str(self.device), "dtype": str(self.dtype).replace("torch.", ""),
                "batch_size": self.batch_size, "max_batch_tokens": self.max_batch_tokens, "batching": self.batching,
                "special_tokens": self.special_tokens, "added_special_tokens": self.added_special_tokens}
