"""The line between "what produces text" and "what judges it".

A backend turns requests (chat messages + sampling settings + a sample index) into completions,
in the caller's order. It knows nothing of prompts' meaning, datasets or verdicts.
"""
from __future__ import annotations

import hashlib
import json
from abc import ABC
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator


@dataclass(frozen=True)
class Sampling:
    """Every setting that shapes a completion; all of it is part of the store key."""

    temperature: float = 0.6
    top_p: float = 1.0
    max_new_tokens: int = 8192
    seed: int = 0

    def __post_init__(self):
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")

    def as_dict(self) -> dict:
        return {"temperature": float(self.temperature), "top_p": float(self.top_p),
                "max_new_tokens": int(self.max_new_tokens), "seed": int(self.seed)}


@dataclass(frozen=True)
class Request:
    messages: tuple  # of {"role", "content"} dicts; a tuple so requests hash
    sampling: Sampling
    sample: int = 0  # which of k samples (voting); with the seed it fixes the random stream
    # Token ids the model's answer starts with, given, not generated: the generation continues
    # after them (a thought cut at a budget and closed, so only the verdict is generated).
    continuation: tuple = ()

    def request_seed(self) -> int:
        """A per-request seed from the run seed, the sample index and the prompt, so a request's
        random stream does not depend on which batch it lands in (resume gives the same text)."""
        parts = [self.sampling.seed, self.sample, list(self.messages)]
        if self.continuation:
            parts.append(list(self.continuation))
        h = hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode())
        return int.from_bytes(h.digest()[:4], "big") & 0x7FFFFFFF


@dataclass
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" or "length" (cut off at max_new_tokens)

    def as_dict(self) -> dict:
        return asdict(self)


class Backend(ABC):
    """Produces completions. Subclasses set ``model_id`` and ``revision`` (part of the store key)."""

    name: str = "backend"
    model_id: str = ""
    revision: str = ""
    # What else changes the numbers for one seed (device class and dtype, e.g. "cuda:bfloat16"),
    # part of the store key; empty where the backend cannot know (a server decides).
    numerics: str = ""
    # Tokens the model can attend to (prompt and completion); None where the backend cannot tell.
    context_length: int | None = None

    chunk_size: int = 16

    def generate(self, requests: list[Request]) -> list[Completion]:
        """Completions for ``requests``, in the same order."""
        out: list[Completion | None] = [None] * len(requests)
        for chunk in self.stream(requests):
            for i, completion in chunk:
                out[i] = completion
        return out

    def stream(self, requests: list[Request]) -> Iterator[list[tuple[int, Completion]]]:
        """Completions in chunks as they finish, as ``(index into requests, completion)``; the
        judge commits each chunk to the store before asking for the next, so a crash loses at
        most one chunk. Backends override this or ``_generate_chunk``."""
        for start in range(0, len(requests), self.chunk_size):
            chunk = requests[start:start + self.chunk_size]
            yield list(enumerate(self._generate_chunk(chunk), start))

    def _generate_chunk(self, requests: list[Request]) -> list[Completion]:
        raise NotImplementedError(f"{type(self).__name__} implements neither stream() nor _generate_chunk()")

    def prompt_text(self, messages) -> str:
        """What the model actually sees for ``messages`` (the rendered chat template where the
        backend renders it; canonical JSON of the messages where a server does)."""
        return json.dumps(list(messages), ensure_ascii=False, sort_keys=True)

    def is_reasoning(self) -> bool | None:
        """Whether the model thinks in ``<think>`` … ``</think>`` before answering; None if unknown."""
        return None

    def count_tokens(self, text: str) -> int | None:
        """Tokens in ``text`` by the model's tokenizer, where the backend has one."""
        return None

    def count_prompt_tokens(self, text: str) -> int | None:
        """Tokens the model is given for the rendered prompt ``text`` (with any special tokens
        the backend adds to it), where the backend has a tokenizer."""
        return self.count_tokens(text)

    def token_prefix(self, text: str, n: int) -> str:
        raise NotImplementedError(f"the {self.name} backend has no tokenizer to shorten text with")

    def token_ids(self, text: str) -> list[int]:
        """``text`` as the model's token ids (no special tokens added)."""
        raise NotImplementedError(f"the {self.name} backend has no tokenizer here: token-level continuations "
                                  f"(thinking budgets) need the served model's tokenizer (-p tokenizer FOLDER_OR_HUB_ID) "
                                  f"or a backend that renders the prompt itself (hf, vllm)")

    def decode(self, ids) -> str:
        raise NotImplementedError(f"the {self.name} backend has no tokenizer here")

    def describe(self) -> dict:
        return {"backend": self.name, "model": self.model_id, "revision": self.revision}

    def estimate_seconds(self, requests) -> float | None:
        """An upper bound on how long ``requests`` take (each writing to its budget), where this
        backend can tell; None where it cannot (a server, a GPU engine)."""
        return None

    def speed_note(self) -> str:
        """How ``estimate_seconds`` reckons, for a person reading the estimate."""
        return ""

    def summary(self) -> str:
        """``describe()`` in one line for a person: the model and revision, then the settings."""
        d = dict(self.describe())
        model, rev, backend = d.pop("model"), str(d.pop("revision", "") or ""), d.pop("backend")
        rest = ", ".join(f"{k} {v}" for k, v in d.items() if v not in (None, "", {}, []))
        return f"{model}" + (f" @{rev[:12]}" if rev and rev not in model else "") + f" ({backend}" + \
            (f": {rest})" if rest else ")")

    def close(self) -> None:
        pass


SPECIAL_TOKENS = ("paper", "template")


class RendersChatTemplate:
    """For backends that render the chat template themselves (``hf``, ``vllm``): the store's
    prompt is then the exact text the model sees. Needs ``self.tokenizer``.

    How the rendered text becomes token ids (``special_tokens``): ``"paper"``, as the original
    evaluation did (it gave vLLM the rendered text, which vLLM tokenizes with the tokenizer's
    special tokens added: where the tokenizer adds a BOS, as a LlamaTokenizerFast with
    ``add_bos_token`` does, a template that starts with BOS gets a second one; its own comment
    says so, and only its "Atla" branch passed token ids), or ``"template"``, the template's tokens
    only. Where the tokenizer adds nothing (SmolLM2's) the two are the same ids and the same key."""

    tokenizer = None
    special_tokens = "paper"

    # Whether the rendered prompt ends with the template's generation prompt (a judge writes
    # after it); a backend that scores a whole conversation says False.
    GENERATION_PROMPT = True

    def prompt_text(self, messages) -> str:
        rendered = self.__dict__.setdefault("_rendered", {})
        key = tuple((m["role"], m["content"]) for m in messages)
        if key not in rendered:
            rendered[key] = self.tokenizer.apply_chat_template(list(messages), tokenize=False,
                                                               add_generation_prompt=self.GENERATION_PROMPT)
        return rendered[key]

    def is_reasoning(self) -> bool:
        """True when the chat template opens a ``<think>`` block in the generation prompt (as
        RRM's does): the completion then starts inside the thought."""
        msgs = [{"role": "user", "content": "x"}]
        with_prompt = self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        without = self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=False)
        return "<think>" in with_prompt[len(without):]

    def count_tokens(self, text: str) -> int:
        return len(self.token_ids(text))

    def prompt_ids(self, text: str) -> list[int]:
        """The token ids the model is given for the rendered prompt ``text`` (see ``special_tokens``)."""
        ids = list(self.tokenizer(text, add_special_tokens=self.special_tokens == "paper")["input_ids"])
        return [self.tokenizer.bos_token_id] + ids if getattr(self, "_prepend_bos", False) else ids

    def count_prompt_tokens(self, text: str) -> int:
        return len(self.prompt_ids(text))

    def _set_special_tokens(self, mode: str) -> str:
        """Take the ``special_tokens`` mode; returns what the store key's ``numerics`` gains: the
        tokens the tokenizer adds, where it adds any and the mode keeps them (so texts made from
        the template's tokens alone are never reused for the paper's ids, or back)."""
        if mode not in SPECIAL_TOKENS:
            raise ValueError(f"special_tokens must be one of {SPECIAL_TOKENS}, got {mode!r}")
        self.special_tokens = mode
        probe = "x"
        plain = self.token_ids(probe)
        added = self.tokenizer(probe, add_special_tokens=True)["input_ids"]
        # A tokenizer_config.json with add_bos_token (DeepSeek-R1-Distill's, so RRM's) made
        # transformers 4's LlamaTokenizerFast, which the original ran, put a BOS before every text;
        # transformers 5 loads such a tokenizer (a byte-level tokenizer.json) without that BOS.
        # The paper's ids have it: add it here where the tokenizer itself no longer does.
        bos = self.tokenizer.bos_token_id
        declared = bos is not None and added[:1] != [bos] and declared_add_bos(self.tokenizer)
        self._prepend_bos = mode == "paper" and declared
        # What the paper's way adds (recorded whichever mode this run uses).
        self.added_special_tokens = len(added) - len(plain) + int(declared)
        return f":specials+{self.added_special_tokens}" if mode == "paper" and self.added_special_tokens else ""

    def token_ids(self, text: str) -> list[int]:
        return text_ids(self.tokenizer, text)

    def decode(self, ids) -> str:
        return self.tokenizer.decode(list(ids))

    def token_prefix(self, text: str, n: int) -> str:
        """``text`` cut after its first ``n`` tokens (whole when it has no more)."""
        ids = self.token_ids(text)
        return text if len(ids) <= n else self.tokenizer.decode(ids[:n])


def text_ids(tokenizer, text: str) -> list[int]:
    """``text``'s token ids alone, without the special tokens a tokenizer adds to a sequence (the
    one way every backend that holds a tokenizer counts and cuts text)."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def declared_add_bos(tokenizer) -> bool:
    """Whether the tokenizer's own ``tokenizer_config.json`` says ``"add_bos_token": true``: read
    from the file (transformers 5 no longer keeps the setting), in the tokenizer's folder or, for
    a hub id, in the local cache the tokenizer was loaded from (never from the network)."""
    name = str(getattr(tokenizer, "name_or_path", "") or "")
    if not name:
        return False
    path = Path(name) / "tokenizer_config.json"
    if not Path(name).is_dir():
        try:
            from transformers.utils import cached_file

            found = cached_file(name, "tokenizer_config.json", local_files_only=True,
                                _raise_exceptions_for_missing_entries=False,
                                _raise_exceptions_for_connection_errors=False)
        except (OSError, ValueError):
            found = None
        if not found:
            return False
        path = Path(found)
    try:
        return json.loads(path.read_text()).get("add_bos_token") is True
    except (OSError, ValueError, AttributeError):
        return False


def as_messages(messages) -> tuple:
    return tuple({"role": m["role"], "content": m["content"]} for m in messages)
