"""The upstream backend: forwards chat requests to an OpenAI-compatible endpoint (e.g. vLLM) over httpx."""

from __future__ import annotations

import json
import math
import os
from collections.abc import AsyncIterator
from typing import Any

from supportbot.serve.backend_errors import UpstreamHTTPError, UpstreamUnavailableError
from supportbot.serve.gen_records import QueueFullError
from supportbot.serve.schemas import ChatCompletionRequest

__all__ = ["UPSTREAM_KEY_ENV", "UpstreamBackend"]

UPSTREAM_KEY_ENV = "SUPPORTBOT_UPSTREAM_API_KEY"
HEALTH_TIMEOUT_S = 5.0  # /healthz waits this long for the upstream's /models


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

    async def list_models(self, timeout: float | None = None) -> list[str]:
        resp = await self._send("GET", "/models", **({"timeout": timeout} if timeout else {}))
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

    async def health(self) -> dict[str, Any]:
        """In-flight count, and whether the upstream answers ``GET /models`` now (``problems`` when not)."""
        problems = []
        try:
            await self.list_models(timeout=HEALTH_TIMEOUT_S)
        except UpstreamUnavailableError as exc:
            problems.append(("upstream_unavailable", str(exc)))
        except UpstreamHTTPError as exc:
            problems.append(("upstream_error", f"upstream {self.base_url}/models is not usable: {exc}"))
        return {"backend": self.kind, "upstream": self.base_url, "in_flight": self.in_flight, "problems": problems}

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
            if resp.status_code != 200 or not _is_event_stream(resp):
                await resp.aread()
                await ctx.__aexit__(None, None, None)
                if resp.status_code != 200:
                    raise UpstreamHTTPError(resp.status_code, _body(resp))
                raise UpstreamHTTPError(502, _bad_answer(
                    f"upstream answered 200 to stream: true with content-type "
                    f"{resp.headers.get('content-type')!r}, not an event stream", resp))
        except BaseException:
            self.in_flight -= 1
            raise
        return self._relay(ctx, resp)

    async def _relay(self, ctx, resp) -> AsyncIterator[dict]:
        """The upstream's chunks; a line that is not JSON, or an end before ``data: [DONE]``, is an error."""
        import httpx

        try:
            async for line in resp.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    chunk = json.loads(data)
                except ValueError:
                    chunk = None
                if not isinstance(chunk, dict):
                    raise UpstreamHTTPError(502, _bad_answer("upstream sent an event that is not a JSON object", data))
                yield chunk
            raise UpstreamHTTPError(502, _bad_answer("upstream's event stream ended before 'data: [DONE]'", ""))
        except httpx.TransportError as exc:
            raise UpstreamUnavailableError(self.base_url, exc) from None
        finally:
            self.in_flight -= 1
            await ctx.__aexit__(None, None, None)

    async def aclose(self) -> None:
        await self.client.aclose()


def _is_event_stream(resp) -> bool:
    return resp.headers.get("content-type", "").split(";")[0].strip().lower() == "text/event-stream"


def _bad_answer(problem: str, got: Any) -> dict:
    """The error body for an upstream answer that cannot be used, quoting the start of what came."""
    text = got.text if hasattr(got, "text") else str(got)
    return {"error": {"message": f"{problem}: {text[:200]!r}" if text else problem, "type": "upstream_error"}}


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
        raise UpstreamHTTPError(502, _bad_answer("upstream answered 200 with a body that is not a JSON object", resp))
    return data
