"""What keeps every answer of the service in the API's error shape, below the routes.

* ``ErrorShapeMiddleware``: an exception no handler took becomes a 500 ``{"error": {...}}``.
* ``BodyLimitMiddleware``: a request body above ``--max-body-bytes`` is a 413 before anything parses it.
* ``JsonErrorH11Protocol``: uvicorn's h11 protocol whose 400 for bytes that are not HTTP (a garbage
  request line, bad chunked encoding, a bad header) is JSON in the same shape, not plain text.
* ``validation_message`` / ``http_error_body``: FastAPI's and Starlette's own errors in that shape.
"""

from __future__ import annotations

import http
import json
import logging
import sys

import h11
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from supportbot.serve.schemas import clip, error_body

__all__ = ["BodyLimitMiddleware", "ErrorShapeMiddleware", "JsonErrorH11Protocol", "http_error_body",
           "validation_message"]

log = logging.getLogger("supportbot.serve")


def validation_message(exc: RequestValidationError) -> str:
    """pydantic's errors as one line, each ``field: problem`` (field names cut short: they come from the client)."""
    parts = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            where = err.get("loc", ("body", "?"))[-1]
            parts.append(f"body: invalid JSON at character {where} ({(err.get('ctx') or {}).get('error', 'decode error')})")
            continue
        loc = ".".join(clip(str(x), 60) for x in err.get("loc", ()) if x != "body") or "body"
        parts.append(f"{loc}: {err.get('msg')}")
    return clip("invalid request: " + "; ".join(parts), 2000)


def http_error_body(req: Request, exc: StarletteHTTPException) -> dict:
    """Starlette's and FastAPI's own errors (404 path, 405 method, 400 unreadable body) in the API's shape."""
    body = getattr(exc, "body", None)
    if body:
        return body
    try:
        code = http.HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        code = None
    return error_body(f"{exc.detail} ({req.method} {clip(req.url.path)})",
                      type_="server_error" if exc.status_code >= 500 else "invalid_request_error", code=code)


class ErrorShapeMiddleware:
    """Last line of defence: an exception no handler took becomes a 500 in the API's error shape.

    Starlette's own 500 is plain text and re-raises, which makes uvicorn drop the keep-alive
    connection; this answers and keeps it. An exception after the response has started (a stream)
    still propagates: the status line is already sent.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_watch)
        except Exception as exc:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            body = error_body(f"internal error: {type(exc).__name__}: {exc}"[:500], type_="server_error")
            await JSONResponse(body, status_code=500)(scope, receive, send)


class BodyLimitMiddleware:
    """Reads the request body first and answers 413 when it is above ``max_bytes`` (by its
    Content-Length, or as it arrives when chunked); the app then gets the body as usual, and later
    ``receive`` calls (the disconnect watch) go to the connection."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, size: str) -> None:
        msg = (f"request body is {size}, above this server's limit of {self.max_bytes} bytes (--max-body-bytes)")
        resp = JSONResponse(error_body(msg, code="request_too_large"), status_code=413, headers={"Connection": "close"})
        await resp(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            await self._too_large(scope, receive, send, f"{int(length)} bytes")
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before sending its body: nobody to answer
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._too_large(scope, receive, send, f"more than {self.max_bytes} bytes")
                return
            if not message.get("more_body", False):
                break
        pending: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay() -> Message:
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)


class JsonErrorH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with its 400 for a request that is not valid HTTP in the API's JSON
    error shape (uvicorn sends plain text). Pass as ``uvicorn.run(app, http=JsonErrorH11Protocol)``."""

    def send_400_response(self, msg: str) -> None:
        cause = sys.exception()  # called from uvicorn's `except h11.RemoteProtocolError` block
        detail = f"invalid HTTP request: {clip(str(cause), 200)}" if cause is not None and str(cause) else msg
        if self.conn.our_state not in {h11.IDLE, h11.SEND_RESPONSE}:  # a response has begun: only closing is left
            self.transport.close()
            return
        data = json.dumps(error_body(detail, code="bad_request")).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                   (b"connection", b"close")]
        for event in (h11.Response(status_code=400, headers=headers, reason=b"Bad Request"), h11.Data(data=data),
                      h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))
        self.transport.close()
