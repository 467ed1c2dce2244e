"""OpenAI-compatible servers (``vllm serve``, SGLang, a hosted API), one or a fleet of them.

The server renders the chat template, so the store key's prompt is the canonical JSON of the
messages. Each sample index is its own request (``n=1``) with its own seed, so samples are cached
independently and a resumed run asks only for what is missing.

The requests run on an asyncio loop in a worker thread: the Judge calls ``stream()`` from sync
code, and inside a notebook a loop is already running (``asyncio.run`` fails there). Completions
come back through a queue and are handed to the Judge in chunks as they finish.
"""
from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import queue
import random
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from rrmlib.backends.base import Backend, Completion, Request, text_ids
from rrmlib.redact import scrub

log = logging.getLogger(__name__)

# Worth another try, possibly on another server: rate limits, timeouts, overloaded or dying servers.
RETRY_STATUS = {408, 409, 429}


class RequestFailed(RuntimeError):
    """A request the servers would not complete: a 4xx refusal, or retries used up."""


class InvalidReply(Exception):
    """A reply that is no completion (malformed JSON, no choices, no message): never stored, retried.
    ``body``: the start of what came instead, said only once the key is scrubbed out of it (a cut
    made first could leave a piece of the key that no longer reads as the key)."""

    def __init__(self, message: str, body: str | None = None):
        super().__init__(message)
        self.body = body


@dataclass
class _Server:
    url: str
    client: Any
    in_flight: int = 0
    failures: int = 0  # consecutive; sets how long the server is avoided
    down_until: float = 0.0


def _scrub(text: str, key: str | None) -> str:
    """``text`` (a server's message) without the API key in any form: some servers quote the key
    they refuse, upper-cased, escaped or encoded (``rrmlib.redact.scrub``)."""
    return scrub(text, key)


def _retry_after(error: Exception) -> float | None:
    """Seconds a 429 or 503 reply asks us to wait (``retry-after-ms``, or ``Retry-After`` as
    seconds or as an HTTP date); None when it does not say."""
    headers = getattr(getattr(error, "response", None), "headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if not value:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            continue
        return max(0.0, when.timestamp() - time.time())
    return None


def _redact(url: str) -> str:
    """A URL without any ``user:password@`` part, fit for meta.json and logs."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=host))


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(self, model: str, *, base_url: str | list[str], api_key_env: str | None = "OPENAI_API_KEY",
                 concurrency: int = 16, timeout: float = 600.0, max_retries: int = 5, backoff: float = 1.0,
                 backoff_max: float = 30.0, chunk_size: int = 16, flush_seconds: float = 30.0,
                 revision: str = "", reasoning: bool | None = None, tokenizer: str | None = None):
        urls = base_url.split(",") if isinstance(base_url, str) else list(base_url)
        self.base_urls = [u.strip().rstrip("/") for u in urls if u.strip()]
        if not model:
            raise ValueError("the openai backend needs `model`: the name the server serves the model under")
        if not self.base_urls:
            raise ValueError("the openai backend needs `base_url`, e.g. http://127.0.0.1:8000/v1 "
                             "(a comma-separated list spreads requests over several servers)")
        for name, value in [("concurrency", concurrency), ("chunk_size", chunk_size)]:
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.model_id, self.revision = model, revision
        self.api_key_env = api_key_env  # the variable's name only: the key never lands on this object
        self.concurrency, self.timeout, self.max_retries = concurrency, timeout, max_retries
        self.backoff, self.backoff_max = backoff, backoff_max
        self.chunk_size, self.flush_seconds = chunk_size, flush_seconds
        self.reasoning = reasoning
        self.tokenizer_name, self._tokenizer = tokenizer, None
        self.stats = {u: {"completed": 0, "failed": 0} for u in self.base_urls}
        self.waits: list[float] = []  # seconds waited before each retry, as chosen (diagnostics, tests)
        self._turn = 0

    # -- what the Judge asks --------------------------------------------------------------
    def is_reasoning(self) -> bool | None:
        return self.reasoning  # a server does not show its template: unknown unless told

    @property
    def tokenizer(self):
        """The served model's tokenizer and chat template, where given (``tokenizer=``)."""
        if self.tokenizer_name is None:
            return None
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.tokenizer_name)
        return self._tokenizer

    def count_tokens(self, text: str) -> int | None:
        return None if self.tokenizer is None else len(text_ids(self.tokenizer, text))

    def token_ids(self, text: str) -> list[int]:
        return super().token_ids(text) if self.tokenizer is None else text_ids(self.tokenizer, text)

    def decode(self, ids) -> str:
        if self.tokenizer is None:
            return super().decode(ids)
        return self.tokenizer.decode(list(ids))

    def rendered(self, r: Request) -> str:
        """A continuation request's prompt as the completions endpoint takes it: the chat template
        rendered here, then the given tokens decoded (the server tokenizes the text again)."""
        text = self.tokenizer.apply_chat_template(list(r.messages), tokenize=False, add_generation_prompt=True)
        return text + self.decode(r.continuation)

    def describe(self) -> dict:
        return {**super().describe(), "base_urls": [_redact(u) for u in self.base_urls],
                "api_key_env": self.api_key_env, "concurrency": self.concurrency, "timeout": self.timeout,
                "max_retries": self.max_retries, "reasoning": self.reasoning}

    # -- streaming: a worker thread runs the requests, this thread hands out chunks ---------
    def stream(self, requests: list[Request]):
        if not requests:
            return
        if any(r.continuation for r in requests) and self.tokenizer_name is None:
            # A verdict forced after a cut thought continues the answer from given tokens: a chat
            # endpoint renders the prompt itself and cannot; the completions endpoint can, given a
            # prompt rendered here, which needs the model's own chat template and tokenizer.
            raise NotImplementedError(
                "the openai backend continues an answer from given tokens (thinking budgets) through the server's "
                "completions endpoint, with the prompt rendered here: pass the model's tokenizer and chat template "
                "(-p tokenizer FOLDER_OR_HUB_ID, the served model's own), or use backend hf or vllm")
        results: queue.SimpleQueue = queue.SimpleQueue()
        loop = asyncio.new_event_loop()
        main = loop.create_task(self._run(requests, results.put))
        done = object()

        def work():
            try:
                loop.run_until_complete(main)
            except BaseException as e:  # noqa: BLE001 - handed to the consuming thread
                results.put(e)
            finally:
                try:  # as asyncio.run does: no stray resolver threads or async generators
                    loop.run_until_complete(loop.shutdown_asyncgens())
                    loop.run_until_complete(loop.shutdown_default_executor())
                finally:
                    loop.close()
                    results.put(done)

        thread = threading.Thread(target=work, name="rrm-openai", daemon=True)
        thread.start()
        buf: list = []
        since = 0.0
        try:
            while True:
                # With results in hand, wait no longer than the flush deadline, so a slow
                # fleet still commits what it has every flush_seconds.
                wait = None if not buf else max(0.0, since + self.flush_seconds - time.monotonic())
                try:
                    item = results.get(timeout=wait)
                except queue.Empty:
                    item = None
                if item is done:
                    break
                if isinstance(item, BaseException):
                    if buf:  # what finished before the failure is kept
                        yield buf
                        buf = []
                    raise item
                if item is not None:
                    if not buf:
                        since = time.monotonic()
                    buf.append(item)
                if buf and (len(buf) >= self.chunk_size or time.monotonic() - since >= self.flush_seconds):
                    yield buf
                    buf = []
            if buf:
                yield buf
        finally:
            if thread.is_alive():  # the caller stopped early (error, interrupt): stop the requests
                try:
                    loop.call_soon_threadsafe(main.cancel)
                except RuntimeError:  # the loop closed in between
                    pass
                thread.join(timeout=10)

    async def _run(self, requests: list[Request], emit) -> None:
        import openai

        key = (os.environ.get(self.api_key_env) if self.api_key_env else None) or "EMPTY"
        # The client's own retries would stay on one server; ours move to another.
        servers = [_Server(u, openai.AsyncOpenAI(base_url=u, api_key=key, timeout=self.timeout, max_retries=0))
                   for u in self.base_urls]
        del key
        limit = asyncio.Semaphore(self.concurrency)
        stopping = asyncio.Event()  # a request failed for good: the run ends, send nothing more

        async def one(i: int, r: Request):
            async with limit:
                # A failure frees its slot before the run gets to cancel the waiting requests: the
                # next one must not go out in between.
                if stopping.is_set():
                    return
                try:
                    completion = await self._complete(r, servers)
                except BaseException:
                    stopping.set()
                    raise
                emit((i, completion))

        tasks = [asyncio.create_task(one(i, r)) for i, r in enumerate(requests)]
        try:
            finished, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for t in pending:  # a failure ends the run: stop the others, report the first
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for t in finished:
                if t.exception() is not None:
                    raise t.exception()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for s in servers:
                await s.client.close()

    # -- one request, with retries across servers -----------------------------------------
    def _pick(self, servers: list[_Server], avoid: _Server | None) -> _Server:
        """Least in flight among servers that have not just failed, rotating ties; a server
        that failed this request is passed over while there is another."""
        now = time.monotonic()
        pool = [s for s in servers if s is not avoid] or servers
        pool = [s for s in pool if s.down_until <= now] or pool
        self._turn += 1
        k = self._turn % len(pool)
        return min(pool[k:] + pool[:k], key=lambda s: s.in_flight)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter; a server's ``Retry-After`` is honoured, up to ``backoff_max``
        (a server asking for an hour does not hold the run for an hour: the retries stay bounded)."""
        delay = min(self.backoff_max, self.backoff * 2 ** attempt) * random.uniform(0.5, 1.0)
        return delay if retry_after is None else max(delay, min(retry_after, self.backoff_max))

    def _key(self) -> str | None:
        """The key, read again only to scrub it out of a server's messages (never kept)."""
        return os.environ.get(self.api_key_env) if self.api_key_env else None

    async def _complete(self, r: Request, servers: list[_Server]) -> Completion:
        import openai

        failed, delay, errors = None, 0.0, []
        endpoint = "completions" if r.continuation else "chat/completions"
        for attempt in range(self.max_retries + 1):
            s = self._pick(servers, failed)
            if failed is not None and (s is failed or s.down_until > time.monotonic()):
                self.waits.append(delay)
                await asyncio.sleep(delay)  # no healthy server to move to: back off first
            s.in_flight += 1
            problem = refusal = retry_after = None
            try:
                # The client's timeout bounds each read; this bounds the whole reply (a server that
                # trickles bytes would pass the first and hold the request for ever).
                if r.continuation:  # an answer that starts with given tokens: the completions endpoint
                    call = s.client.completions.create(
                        model=self.model_id, prompt=self.rendered(r), n=1, seed=r.request_seed(),
                        temperature=r.sampling.temperature, top_p=r.sampling.top_p, max_tokens=r.sampling.max_new_tokens)
                else:
                    call = s.client.chat.completions.create(
                        model=self.model_id, messages=list(r.messages), n=1, seed=r.request_seed(),
                        temperature=r.sampling.temperature, top_p=r.sampling.top_p,
                        max_tokens=r.sampling.max_new_tokens)
                resp = await asyncio.wait_for(call, self.timeout)
                completion = _text_completion(resp) if r.continuation else _completion(resp)
            except openai.APIStatusError as e:
                status = e.status_code
                if status not in RETRY_STATUS and status < 500:
                    refusal = self._refusal(s.url, status, e, endpoint)
                else:
                    problem, retry_after = f"HTTP {status}", _retry_after(e)
            except (TimeoutError, openai.APITimeoutError):
                problem = f"no reply within timeout={self.timeout:g} s"
            except openai.APIConnectionError as e:
                cause = e.__cause__ or e.__context__
                problem = f"connection failed ({type(cause or e).__name__}{f': {cause}' if cause else ''})"
            except (openai.APIError, ValueError) as e:  # a body that is not JSON (JSONDecodeError), or not valid
                problem = f"malformed reply ({type(e).__name__})"
            except InvalidReply as e:
                said = f": {_scrub(e.body, self._key())[:80]!r}" if e.body is not None else ""
                problem = f"invalid reply ({e}{said})"
            finally:
                s.in_flight -= 1
            # Raised here, outside the except clauses: the client's exception (which holds the
            # request, key included) is not chained to ours.
            if refusal is not None:
                raise RequestFailed(refusal)
            if problem is None:
                s.failures, s.down_until = 0, 0.0
                self.stats[s.url]["completed"] += 1
                return completion
            self.stats[s.url]["failed"] += 1
            s.failures += 1
            hold = min(self.backoff_max, self.backoff * 2 ** (s.failures - 1))
            if retry_after is not None:  # the server said how long to leave it alone
                hold = max(hold, min(retry_after, self.backoff_max))
            s.down_until = time.monotonic() + hold
            errors.append(f"{_redact(s.url)}/{endpoint}: {_scrub(problem, self._key())}")
            failed, delay = s, self._delay(attempt, retry_after)
            if attempt < self.max_retries:
                log.warning("request failed: %s; retry %d of %d", errors[-1], attempt + 1, self.max_retries)
        raise RequestFailed(
            f"a request failed {len(errors)} times (max_retries={self.max_retries}): {'; '.join(errors)}. "
            f"Are the servers at {', '.join(map(_redact, self.base_urls))} up? Completions already "
            f"finished are in the store; rerun to resume.")

    def _refusal(self, url: str, status: int, e: Exception, endpoint: str = "chat/completions") -> str:
        hint = ""
        if status in (401, 403):
            hint = f" Check the key in ${self.api_key_env}." if self.api_key_env else " The server wants a key: set api_key_env."
        elif status == 404:
            hint = f" Does it serve a model named {self.model_id!r}? GET {_redact(url)}/models lists what it serves."
        said = _scrub(str(getattr(e, "message", e)), self._key())
        return f"{_redact(url)}/{endpoint} refused the request with HTTP {status}: {said}.{hint}"


def _text_completion(resp) -> Completion:
    """The completion in a reply of the completions endpoint (``choices[0].text``), or InvalidReply."""
    choices = getattr(resp, "choices", None)
    if isinstance(resp, (str, bytes)) or not isinstance(choices, list) or not choices:
        raise InvalidReply("not a text completion (no `choices`)")
    text = getattr(choices[0], "text", None)
    if not isinstance(text, str):
        raise InvalidReply("a choice without text")
    usage = getattr(resp, "usage", None)
    return Completion(text=text, prompt_tokens=getattr(usage, "prompt_tokens", None),
                      completion_tokens=getattr(usage, "completion_tokens", None),
                      finish_reason="length" if getattr(choices[0], "finish_reason", None) == "length" else "stop")


def _completion(resp) -> Completion:
    """The completion in a reply, or InvalidReply: what is stored must be a real completion."""
    if isinstance(resp, (str, bytes)):  # a body the client could not read as JSON (another content type)
        raise InvalidReply("not a JSON chat completion", body=str(resp)[:2000])
    choices = getattr(resp, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise InvalidReply("no choices" if isinstance(choices, list) else "not a chat completion (no `choices`)")
    choice = choices[0]
    msg = getattr(choice, "message", None)
    content = getattr(msg, "content", None)
    if msg is None or not (content is None or isinstance(content, str)):
        raise InvalidReply("a choice without a text message")
    # Reasoning parsers (vLLM's, SGLang's) split the thought from the answer; join them back the
    # way the model wrote them, so parse_verdict finds the verdict after </think>. A thought that
    # was cut off has no content, and stays without </think>.
    thought = getattr(msg, "reasoning_content", None) or getattr(msg, "reasoning", None)
    if thought is not None and not isinstance(thought, str):
        raise InvalidReply("a reasoning field that is not text")
    if thought:
        text = thought + ("</think>" + content if content is not None else "")
    else:
        text = content or ""
    usage = getattr(resp, "usage", None)
    return Completion(text=text, prompt_tokens=getattr(usage, "prompt_tokens", None),
                      completion_tokens=getattr(usage, "completion_tokens", None),
                      finish_reason="length" if getattr(choice, "finish_reason", None) == "length" else "stop")
