"""Where answers come from: local model folders in this process, or an OpenAI-compatible upstream.

Both backends give the app the same async interface (``list_models``, ``count_input_tokens``,
``context_length``, ``chat`` returning an OpenAI ``chat.completion`` dict, ``stream`` yielding
``chat.completion.chunk`` dicts) and raise ``QueueFullError`` (-> 503), ``UnknownModelError`` (-> 404),
``InvalidPromptError`` (-> 422), ``UpstreamHTTPError`` (the upstream's own status) or
``UpstreamUnavailableError`` (-> 502: nothing answers at the upstream URL, or it broke the connection).

``TransformersBackend`` also has a synchronous ``generate`` used by ``demo.py`` and the benchmark.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

from supportbot.http_errors import describe
from supportbot.serve.batching import (
    BatchWorker,
    GenParams,
    GenRequest,
    GenResult,
    QueueFullError,
    TokenEvent,
    stats,
)
from supportbot.serve.schemas import ChatCompletionRequest, chat_chunk, chat_completion, completion_id, usage

__all__ = ["TransformersBackend", "UpstreamBackend", "QueueFullError", "UnknownModelError", "UpstreamHTTPError",
           "UpstreamUnavailableError", "InvalidPromptError", "ModelLoadError", "params_from_request"]

UPSTREAM_KEY_ENV = "SUPPORTBOT_UPSTREAM_API_KEY"


class UnknownModelError(LookupError):
    """The request names a model this server does not serve."""


class ModelLoadError(RuntimeError):
    """A model folder is missing or not a safetensors transformers folder."""


class InvalidPromptError(ValueError):
    """The model's chat template or tokenizer cannot take these messages."""


class UpstreamHTTPError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"upstream answered {status}: {body}")
        self.status, self.body = status, body


class UpstreamUnavailableError(RuntimeError):
    """The upstream could not be reached (connection refused, timeout) or broke the connection."""

    def __init__(self, url: str, exc: BaseException) -> None:
        super().__init__(f"upstream {url} did not answer: {describe(exc)}")
        self.url = url


def params_from_request(body: ChatCompletionRequest, max_tokens: int) -> GenParams:
    return GenParams(max_tokens=max_tokens, temperature=body.temperature, top_p=body.top_p, seed=body.seed,
                     stop=tuple(body.stop_list()), logprobs=body.logprobs, top_logprobs=body.top_logprobs or 0,
                     ignore_eos=body.ignore_eos)


def load_model(model_dir: str | Path):
    """Tokenizer (left padding) and fp32 model from a local safetensors folder; no remote code."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise ModelLoadError(f"{model_dir}: not a model folder (no config.json)")
    if not any(model_dir.glob("*.safetensors")):
        raise ModelLoadError(f"{model_dir}: no *.safetensors weights (only safetensors folders are loaded)")
    tok = AutoTokenizer.from_pretrained(model_dir, padding_side="left", trust_remote_code=False)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, use_safetensors=True,
                                                 trust_remote_code=False)
    model.eval()
    return tok, model


def model_context(model, tokenizer) -> int | None:
    """Tokens the model can attend to: ``max_position_embeddings`` (and the tokenizer's own limit when lower)."""
    limits = [getattr(model.config, "max_position_embeddings", None), getattr(tokenizer, "model_max_length", None)]
    ok = [int(n) for n in limits if isinstance(n, int) and 0 < n < 10**7]  # tokenizers say 1e30 for "unknown"
    return min(ok) if ok else None


class TransformersBackend:
    """One ``BatchWorker`` per named local model folder."""

    kind = "transformers"

    def __init__(self, models: Mapping[str, str | Path], *, queue_size: int = 64, max_batch_size: int = 16,
                 batch_wait_ms: float = 5.0) -> None:
        if not models:
            raise ValueError("no models given")
        self.dirs = {n: Path(d) for n, d in models.items()}
        self.workers: dict[str, BatchWorker] = {}
        for name, d in self.dirs.items():
            tok, model = load_model(d)
            self.workers[name] = BatchWorker(model, tok, name=name, queue_size=queue_size,
                                             max_batch_size=max_batch_size, batch_wait_s=batch_wait_ms / 1000)

    # ------------------------------------------------------------ sync API (demo, benchmark)
    def model_ids(self) -> list[str]:
        return list(self.workers)

    def worker(self, model: str | None) -> BatchWorker:
        name = model or next(iter(self.workers))
        if name not in self.workers:
            raise UnknownModelError(f"model {name!r} is not served here; available: {', '.join(self.workers)}")
        return self.workers[name]

    def encode(self, model: str | None, messages: list[dict[str, str]]) -> list[int]:
        tok = self.worker(model).tokenizer
        try:
            text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            return tok(text, add_special_tokens=False)["input_ids"]
        except Exception as exc:  # noqa: BLE001 - a template that raises on this conversation, odd text
            raise InvalidPromptError(f"the chat template or tokenizer of model {model or self.model_ids()[0]!r} "
                                     f"cannot take these messages: {type(exc).__name__}: {exc}") from None

    def context_length(self, model: str) -> int | None:
        w = self.worker(model)
        return model_context(w.model, w.tokenizer)

    def submit(self, model: str | None, messages: list[dict[str, str]], params: GenParams,
               on_event: Callable[[TokenEvent], None] | None = None) -> GenRequest:
        req = GenRequest(self.encode(model, messages), params, on_event)
        self.worker(model).submit(req)
        return req

    def generate(self, model: str | None, messages: list[dict[str, str]], params: GenParams,
                 on_event: Callable[[TokenEvent], None] | None = None) -> GenResult:
        """Blocking: one answer (batched with whatever else is submitted at the same moment)."""
        return self.submit(model, messages, params, on_event).future.result()

    def close(self) -> None:
        for w in self.workers.values():
            w.close()

    # ------------------------------------------------------------ async API (the app)
    async def list_models(self) -> list[str]:
        return self.model_ids()

    async def count_input_tokens(self, model: str, messages: list[dict[str, str]]) -> int:
        return len(self.encode(model, messages))

    def health(self) -> dict[str, Any]:
        return {"backend": self.kind, "models": {n: stats(w) for n, w in self.workers.items()}}

    async def chat(self, body: ChatCompletionRequest, model: str, max_tokens: int) -> dict:
        messages = [m.model_dump() for m in body.messages]
        req = self.submit(model, messages, params_from_request(body, max_tokens))
        try:
            res: GenResult = await asyncio.wrap_future(req.future)
        except asyncio.CancelledError:
            req.cancelled.set()
            raise
        return chat_completion(cid=completion_id(), model=model, text=res.text, finish_reason=res.finish_reason,
                               prompt_tokens=res.prompt_tokens, completion_tokens=res.completion_tokens,
                               logprobs=res.logprobs)

    async def stream(self, body: ChatCompletionRequest, model: str, max_tokens: int) -> AsyncIterator[dict]:
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[TokenEvent | None] = asyncio.Queue()
        messages = [m.model_dump() for m in body.messages]
        req = self.submit(model, messages, params_from_request(body, max_tokens),
                          on_event=lambda ev: loop.call_soon_threadsafe(events.put_nowait, ev))
        req.future.add_done_callback(lambda _f: loop.call_soon_threadsafe(events.put_nowait, None))
        return self._chunks(req, events, body, model)

    async def _chunks(self, req: GenRequest, events: asyncio.Queue, body: ChatCompletionRequest,
                      model: str) -> AsyncIterator[dict]:
        cid, created = completion_id(), int(time.time())
        try:
            yield chat_chunk(cid=cid, model=model, created=created, delta={"role": "assistant", "content": ""})
            while (ev := await events.get()) is not None:
                if ev.delta or ev.logprob is not None:
                    yield chat_chunk(cid=cid, model=model, created=created, delta={"content": ev.delta},
                                     logprobs=[ev.logprob] if ev.logprob is not None else None)
            res: GenResult = req.future.result()
            yield chat_chunk(cid=cid, model=model, created=created, delta={}, finish_reason=res.finish_reason)
            if body.stream_options and body.stream_options.include_usage:
                yield {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                       "choices": [], "usage": usage(res.prompt_tokens, res.completion_tokens)}
        finally:
            req.cancelled.set()  # a client that went away stops its row; harmless after the end


class UpstreamBackend:
    """Forwards to an OpenAI-compatible endpoint (``.../v1``), e.g. vLLM, with at most ``queue_size`` in flight.

    Input length is counted with the upstream's ``/tokenize`` (vLLM has it); elsewhere it is estimated
    as UTF-8 bytes / 4 rounded up, and the upstream enforces its own context limit.
    """

    kind = "upstream"

    def __init__(self, base_url: str, *, queue_size: int = 64, timeout: float = 600.0,
                 api_key_env: str = UPSTREAM_KEY_ENV) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        key = os.environ.get(api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=timeout)
        self.queue_size = queue_size
        self.in_flight = 0
        self._tokenize_ok = True
        self._contexts: dict[str, int] = {}

    async def _send(self, method: str, url: str, **kwargs: Any):
        """One request to the upstream; transport failures become ``UpstreamUnavailableError``."""
        import httpx

        try:
            return await self.client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise UpstreamUnavailableError(self.base_url, exc) from None

    async def list_models(self) -> list[str]:
        resp = await self._send("GET", "/models")
        items = _json_object(resp).get("data")
        if not isinstance(items, list):
            raise UpstreamHTTPError(502, {"error": {"message": "upstream /models answered without a 'data' list",
                                                    "type": "upstream_error"}})
        entries = [m for m in items if isinstance(m, dict) and isinstance(m.get("id"), str)]
        for m in entries:  # vLLM lists each model's context as max_model_len
            if isinstance(m.get("max_model_len"), int):
                self._contexts[m["id"]] = m["max_model_len"]
        return [m["id"] for m in entries]

    def context_length(self, model: str) -> int | None:
        return self._contexts.get(model)

    async def count_input_tokens(self, model: str, messages: list[dict[str, str]]) -> int:
        if self._tokenize_ok:
            root = self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url
            resp = await self._send("POST", f"{root}/tokenize", json={"model": model, "messages": messages})
            try:
                if resp.status_code == 200 and isinstance(resp.json().get("count"), int):
                    return int(resp.json()["count"])
            except (ValueError, AttributeError):  # not vLLM's /tokenize: estimate from here on
                pass
            self._tokenize_ok = False
        return math.ceil(sum(len(m["content"].encode("utf-8")) for m in messages) / 4)

    def health(self) -> dict[str, Any]:
        return {"backend": self.kind, "upstream": self.base_url, "in_flight": self.in_flight}

    def _admit(self) -> None:
        if self.in_flight >= self.queue_size:
            raise QueueFullError(f"{self.in_flight} requests in flight to the upstream (--queue-size {self.queue_size})")
        self.in_flight += 1

    @staticmethod
    def _payload(body: ChatCompletionRequest, model: str, max_tokens: int) -> dict:
        data = body.model_dump(exclude_unset=True, exclude_none=True)
        data.pop("max_completion_tokens", None)
        data.update(model=model, max_tokens=max_tokens)
        return data

    async def chat(self, body: ChatCompletionRequest, model: str, max_tokens: int) -> dict:
        self._admit()
        try:
            resp = await self._send("POST", "/chat/completions", json=self._payload(body, model, max_tokens))
        finally:
            self.in_flight -= 1
        return _json_object(resp)

    async def stream(self, body: ChatCompletionRequest, model: str, max_tokens: int) -> AsyncIterator[dict]:
        import httpx

        self._admit()
        try:
            ctx = self.client.stream("POST", "/chat/completions", json=self._payload(body, model, max_tokens))
            try:
                resp = await ctx.__aenter__()
            except httpx.TransportError as exc:
                raise UpstreamUnavailableError(self.base_url, exc) from None
            if resp.status_code != 200:
                await resp.aread()
                await ctx.__aexit__(None, None, None)
                raise UpstreamHTTPError(resp.status_code, _body(resp))
        except BaseException:
            self.in_flight -= 1
            raise
        return self._relay(ctx, resp)

    async def _relay(self, ctx, resp) -> AsyncIterator[dict]:
        import httpx

        try:
            async for line in resp.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                yield json.loads(data)
        except httpx.TransportError as exc:
            raise UpstreamUnavailableError(self.base_url, exc) from None
        finally:
            self.in_flight -= 1
            await ctx.__aexit__(None, None, None)

    async def aclose(self) -> None:
        await self.client.aclose()


def _body(resp) -> Any:
    try:
        return resp.json()
    except ValueError:
        return {"error": {"message": resp.text[:500], "type": "upstream_error"}}


def _json_object(resp) -> dict:
    """The JSON object of a 200 answer; anything else is an ``UpstreamHTTPError`` (the upstream's status, or 502)."""
    if resp.status_code != 200:
        raise UpstreamHTTPError(resp.status_code, _body(resp))
    try:
        data = resp.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise UpstreamHTTPError(502, {"error": {"message": f"upstream answered 200 with a body that is not a JSON "
                                                           f"object: {resp.text[:200]!r}", "type": "upstream_error"}})
    return data
