"""OpenAI-compatible judge client: cache first, retries with exponential backoff, bounded concurrency.

Counts HTTP calls, cache hits, tokens and wall time; ``stats()`` reports them with the cost at the
config's prices. The API key comes from the config's environment variable and is never stored.
An endpoint that refuses the connection is not retried: the first refusal raises
:class:`JudgeUnreachableError` (naming the URL and the cause) and every later cache miss of the
run fails the same way at once, without a call.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import openai

from supportbot.http_errors import describe, is_unreachable
from supportbot.judge.endpoint.cache import CACHE_DIR, JudgmentCache, cache_key
from supportbot.judge.endpoint.config import JudgeConfig

T = TypeVar("T")
R = TypeVar("R")

RETRYABLE = (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError,
             openai.InternalServerError, openai.APIResponseValidationError, ValueError)


class JudgeCallError(RuntimeError):
    """A request that still failed after every retry."""


class JudgeUnreachableError(RuntimeError):
    """Nothing listens at the judge's base URL (connection refused): the run stops instead of retrying."""


class NoLogprobsError(RuntimeError):
    """The endpoint answered without the logprobs that were asked for (not retried: it will not change)."""


@dataclass
class ClientStats:
    calls: int = 0  # HTTP requests sent, retries included
    cache_hits: int = 0
    cache_misses: int = 0
    retries: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    request_s: float = 0.0  # summed request latency of fresh calls
    cached_request_s: float = 0.0  # summed latency the cache recorded for the hits (what they cost when asked)
    errors: list[str] = field(default_factory=list)

    @property
    def recorded_request_s(self) -> float:
        """Request time of every judgment used: this run's calls plus the cache hits' recorded latencies."""
        return self.request_s + self.cached_request_s

    @property
    def mean_request_s(self) -> float | None:
        """:attr:`recorded_request_s` per judgment used (calls + cache hits), None when none was used."""
        n = self.calls + self.cache_hits
        return self.recorded_request_s / n if n else None


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return isinstance(exc, RETRYABLE)


class JudgeClient:
    def __init__(self, cfg: JudgeConfig, *, cache_path: str | Path | None = None, backoff_base: float = 1.0,
                 backoff_max: float = 30.0, endpoint: Callable[[], str] | None = None) -> None:
        """``endpoint``: called once, on the first cache miss, to get a base URL (e.g. start a local
        server); so a fully cached rerun starts nothing."""
        if not cfg.base_url and endpoint is None:
            raise ValueError(f"judge {cfg.name!r} has no base_url: pass --judge-base-url or set launch: in its config")
        self.cfg = cfg
        self._endpoint = endpoint
        self._open_lock = threading.Lock()
        self.cache = JudgmentCache(cache_path or CACHE_DIR / f"{cfg.name}.jsonl")
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.stats = ClientStats()
        self._lock = threading.Lock()
        self._client: openai.OpenAI | None = None
        self.unreachable: str | None = None  # why the endpoint is considered down for this run

    # ------------------------------------------------------------------ plumbing
    def _openai(self) -> openai.OpenAI:
        with self._open_lock:
            if self._client is None:
                base_url = self.cfg.base_url or self._endpoint()
                n = max(2, self.cfg.concurrency * 2)
                http = httpx.Client(limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
                                    timeout=self.cfg.timeout_s)
                self._client = openai.OpenAI(base_url=base_url, api_key=self.cfg.api_key(),
                                             timeout=self.cfg.timeout_s, max_retries=0, http_client=http)
            return self._client

    def decoding(self, *, logprobs: bool) -> dict[str, Any]:
        d = self.cfg.decoding
        out: dict[str, Any] = {"temperature": d.temperature, "max_tokens": d.max_tokens, "seed": d.seed}
        if logprobs:
            out.update(max_tokens=1, logprobs=True, top_logprobs=d.top_logprobs)
        return out

    def _count(self, **inc: int | float) -> None:
        with self._lock:
            for k, v in inc.items():
                setattr(self.stats, k, getattr(self.stats, k) + v)

    def _request(self, messages: list[dict[str, str]], decoding: dict[str, Any]) -> dict[str, Any]:
        t0 = time.perf_counter()
        resp = self._client.chat.completions.create(model=self.cfg.model, messages=messages, **decoding)
        latency = time.perf_counter() - t0
        if not getattr(resp, "choices", None):
            raise ValueError("response without choices")
        choice = resp.choices[0]
        top: list[list[Any]] | None = None
        lp = getattr(choice, "logprobs", None)
        if decoding.get("logprobs"):
            content = getattr(lp, "content", None) if lp is not None else None
            if not content:
                raise NoLogprobsError("logprobs requested but the response has none; use verdict_mode: json for this endpoint")
            top = [[t.token, float(t.logprob)] for t in (content[0].top_logprobs or [])]
        usage = resp.usage
        return {"content": choice.message.content or "", "finish_reason": choice.finish_reason,
                "top_logprobs": top, "prompt_tokens": getattr(usage, "prompt_tokens", 0) or 0,
                "completion_tokens": getattr(usage, "completion_tokens", 0) or 0, "latency_s": round(latency, 3)}

    # ------------------------------------------------------------------ public
    def complete(self, messages: list[dict[str, str]], *, logprobs: bool = False,
                 meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """The judge's response (from the cache when present); raises JudgeCallError after the retries."""
        decoding = self.decoding(logprobs=logprobs)
        key = cache_key(messages, self.cfg.model, decoding)
        hit = self.cache.get(key)
        if hit is not None:
            self._count(cache_hits=1, cached_request_s=float(hit.get("latency_s") or 0.0))
            return {**hit, "cached": True, "cache_key": key}
        self._count(cache_misses=1)
        if self.unreachable:
            raise JudgeUnreachableError(self.unreachable)
        self._openai()  # may start the local judge server; its errors are fatal, not per-request
        last: BaseException | None = None
        for attempt in range(self.cfg.max_retries + 1):
            if attempt:
                self._count(retries=1)
                delay = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
                retry_after = getattr(getattr(last, "response", None), "headers", {}).get("retry-after")
                if retry_after and retry_after.replace(".", "", 1).isdigit():
                    delay = min(self.backoff_max, max(delay, float(retry_after)))
                time.sleep(delay * (0.75 + 0.5 * random.random()))
            self._count(calls=1)
            try:
                resp = self._request(messages, decoding)
            except Exception as exc:  # noqa: BLE001 - classified just below
                last = exc
                if is_unreachable(exc):
                    self._fail(describe(exc, str(self._client.base_url)), unreachable=True)
                    raise JudgeUnreachableError(self.unreachable) from exc
                if not _is_retryable(exc):
                    break
                continue
            self._count(prompt_tokens=resp["prompt_tokens"], completion_tokens=resp["completion_tokens"],
                        request_s=resp["latency_s"])
            self.cache.put(key, resp, {"model": self.cfg.model, "decoding": decoding, **(meta or {})})
            return {**resp, "cached": False, "cache_key": key}
        msg = describe(last, str(self._client.base_url))
        self._fail(msg)
        raise JudgeCallError(msg)

    def _fail(self, msg: str, *, unreachable: bool = False) -> None:
        """Count one failed judgment; ``unreachable`` also marks the endpoint down for the rest of the run."""
        with self._lock:
            self.stats.failures += 1
            self.stats.errors.append(msg[:300])
            if unreachable and self.unreachable is None:
                self.unreachable = msg

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, desc: str, progress: bool = True) -> list[R]:
        """``fn`` over ``items`` with at most ``concurrency`` in flight; results in input order."""
        if not items:
            return []
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(items), desc=desc, unit="item", dynamic_ncols=True)

        def run(x: T) -> R:
            try:
                return fn(x)
            finally:
                if bar is not None:
                    bar.update(1)

        try:
            with ThreadPoolExecutor(max_workers=self.cfg.concurrency, thread_name_prefix="judge") as pool:
                return list(pool.map(run, items))
        finally:
            if bar is not None:
                bar.close()

    def report(self) -> dict[str, Any]:
        s = self.stats
        return {"judge": self.cfg.name, "model": self.cfg.model, "calls": s.calls, "cache_hits": s.cache_hits,
                "cache_misses": s.cache_misses, "retries": s.retries, "failures": s.failures,
                "prompt_tokens": s.prompt_tokens, "completion_tokens": s.completion_tokens,
                "request_s": round(s.request_s, 2), "cost_usd": round(self.cfg.cost_usd(s.prompt_tokens, s.completion_tokens), 6),
                "errors": s.errors[:20]}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
