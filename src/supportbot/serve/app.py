"""HTTP routes of the support service: ``create_app(settings, backend)`` returns the FastAPI app.

Every error answers in OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``:
422 for bad bodies and for ``max_tokens``/prompt length above the caps or the model's context, 401
for a missing or wrong bearer key (only when ``$SUPPORTBOT_API_KEY`` is set), 404 for an unknown
model or path, 405 for a wrong method, 400 for a body that cannot be read or bytes that are not HTTP,
413 for a body above ``--max-body-bytes``, 502 when the upstream does not answer, fails (5xx) or
answers something unusable, 503 when the queue is full or the model's worker has ended; an
unexpected failure is a 500 in the same shape (the connection stays usable). Values a client sent
are cut short where a message repeats them. ``/healthz`` is 200 only while requests can be
answered (every worker alive; the upstream answering ``/models``), else 503 naming why. A client
that disconnects before its answer is ready cancels its request, whether queued or running.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable
from importlib import resources
from typing import TYPE_CHECKING, TypeVar

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from supportbot.paths import load_prompt
from supportbot.serve.ask import RetrievalOffError, ask_request, ask_response
from supportbot.serve.backends import (
    InvalidPromptError,
    QueueFullError,
    UnknownModelError,
    UpstreamHTTPError,
    UpstreamUnavailableError,
)
from supportbot.serve.batching import WorkerDeadError
from supportbot.serve.guards import (
    BodyLimitMiddleware,
    ErrorShapeMiddleware,
    http_error_body,
    validation_message,
)
from supportbot.serve.schemas import AskRequest, AskResponse, ChatCompletionRequest, clip, error_body
from supportbot.serve.settings import Settings

if TYPE_CHECKING:
    from supportbot.kb_prompt import KbPrompter

log = logging.getLogger("supportbot.serve")
STATIC_DIR = resources.files("supportbot.serve") / "static"
CLIENT_CLOSED = 499  # nginx's status for "the client went away first"; nobody reads it
T = TypeVar("T")


class APIError(HTTPException):
    def __init__(self, status: int, message: str, *, type_: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(status, message)
        self.body = error_body(message, type_=type_, param=param, code=code)


class _StaticFiles(StaticFiles):
    """StaticFiles that answers 404, not 500, for a path the OS refuses (a NUL byte: ``/static/%00``)."""

    def lookup_path(self, path: str):
        if "\x00" in path:
            return "", None
        return super().lookup_path(path)


async def _disconnected(request: Request) -> None:
    """Returns when the client goes away (the body is already read, so the next message is the disconnect)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def unless_client_leaves(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``; cancel it (and answer 499) when the client disconnects first, so a client that gave
    up does not keep its request decoding."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        raise
    finally:
        watch.cancel()
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise HTTPException(CLIENT_CLOSED, "client closed the request")
    return task.result()


def context_problems(settings: Settings, backend) -> list[str]:
    """Caps that no request could meet: ``--max-input-tokens`` at or above a served model's context."""
    out = []
    for name in getattr(backend, "workers", {}):
        ctx = backend.context_length(name)
        if ctx is not None and settings.max_input_tokens >= ctx:
            out.append(f"--max-input-tokens {settings.max_input_tokens} leaves no room to answer in model {name!r}, "
                       f"whose context is {ctx} tokens (max_position_embeddings); use at most {ctx - 1}")
    return out


def create_app(settings: Settings, backend, kb: KbPrompter | None = None) -> FastAPI:
    """The app around ``backend`` (``TransformersBackend`` or ``UpstreamBackend``); ``kb``: retrieval for /ask."""
    app = FastAPI(title="supportbot", version="0.1.0",
                  description="Tech-support assistant: OpenAI-compatible chat API, /ask, web chat at /.")
    app.state.settings, app.state.backend = settings, backend
    app.add_middleware(ErrorShapeMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)  # outermost: before any parsing
    system_prompt = load_prompt(settings.system_prompt)

    @app.exception_handler(RequestValidationError)
    async def _on_validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(validation_message(exc)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _on_http(req: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(http_error_body(req, exc), status_code=exc.status_code, headers=exc.headers)

    async def require_key(request: Request) -> None:
        if settings.api_key is None:
            return
        auth = request.headers.get("authorization", "")
        given = auth[7:] if auth[:7].lower() == "bearer " else ""
        if not secrets.compare_digest(given.encode(), settings.api_key.get_secret_value().encode()):
            raise APIError(401, "missing or wrong API key (send 'Authorization: Bearer <key>')",
                           type_="authentication_error", code="invalid_api_key")

    async def resolve_model(name: str | None) -> str:
        models = await backend.list_models()
        if name is None:
            if not models:
                raise APIError(503, "no models available", type_="server_error")
            return models[0]
        if name not in models:
            raise APIError(404, f"model {clip(name)!r} is not served here; available: {', '.join(models)}",
                           param="model", code="model_not_found")
        return name

    async def checked(body: ChatCompletionRequest) -> tuple[str, int]:
        """The model to use and the max_tokens to generate, after the caps."""
        model = await resolve_model(body.model)
        max_tokens = body.requested_max_tokens() or settings.default_max_tokens
        if max_tokens > settings.max_tokens_cap:
            raise APIError(422, f"max_tokens={max_tokens} is above this server's cap of {settings.max_tokens_cap} "
                           "(--max-tokens-cap)", param="max_tokens")
        n_in = await backend.count_input_tokens(model, [m.model_dump() for m in body.messages])
        if n_in > settings.max_input_tokens:
            raise APIError(422, f"the prompt is {n_in} tokens (chat template included), above this server's cap of "
                           f"{settings.max_input_tokens} (--max-input-tokens)", param="messages")
        ctx = backend.context_length(model)
        if ctx is not None and n_in + max_tokens > ctx:
            raise APIError(422, f"the prompt ({n_in} tokens) plus max_tokens ({max_tokens}) is {n_in + max_tokens} "
                           f"tokens, above the context of model {model!r} ({ctx} tokens); shorten the prompt or "
                           "lower max_tokens", param="max_tokens")
        return model, max_tokens

    def backend_errors(exc: Exception) -> Exception:
        if isinstance(exc, QueueFullError):
            return APIError(503, f"server busy: {exc}", type_="server_busy", code="queue_full")
        if isinstance(exc, WorkerDeadError):
            return APIError(503, str(exc), type_="server_error", code="worker_dead")
        if isinstance(exc, UnknownModelError):
            return APIError(404, str(exc), param="model", code="model_not_found")
        if isinstance(exc, InvalidPromptError):
            return APIError(422, str(exc), param="messages")
        if isinstance(exc, UpstreamUnavailableError):
            return APIError(502, str(exc), type_="upstream_error", code="upstream_unavailable")
        if isinstance(exc, UpstreamHTTPError):
            status, body = exc.for_client()
            err = HTTPException(status, str(exc))
            err.body = body
            return err
        return exc

    backend_failures = (QueueFullError, WorkerDeadError, UnknownModelError, InvalidPromptError, UpstreamHTTPError,
                        UpstreamUnavailableError)

    async def run_chat(request: Request, body: ChatCompletionRequest):
        try:
            model, max_tokens = await checked(body)
            if body.stream:
                chunks = await unless_client_leaves(request, backend.stream(body, model, max_tokens))
                return StreamingResponse(_sse(chunks), media_type="text/event-stream",
                                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
            return JSONResponse(await unless_client_leaves(request, backend.chat(body, model, max_tokens)))
        except backend_failures as exc:
            raise backend_errors(exc) from None

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(str(STATIC_DIR / "index.html"))

    app.mount("/static", _StaticFiles(directory=str(STATIC_DIR)), name="static")

    @app.get("/healthz", tags=["service"], responses={503: {"description": "a model worker has ended, or the "
                                                                "upstream does not answer: nothing can be served"}})
    async def healthz():
        """200 ``{"status": "ok", ...}`` while requests can be answered; else 503 in the error shape, naming why."""
        health = await backend.health()
        problems = health.pop("problems", [])
        if problems:
            return JSONResponse(error_body("unhealthy: " + "; ".join(msg for _, msg in problems), type_="server_error",
                                           code=problems[0][0]), status_code=503)
        return {"status": "ok", **health}

    @app.get("/config", tags=["service"], summary="What the web page needs (no secrets)")
    async def config() -> dict:
        return {"system_prompt": system_prompt, "max_tokens_cap": settings.max_tokens_cap,
                "default_max_tokens": settings.default_max_tokens, "auth_required": settings.api_key is not None,
                "kb": kb is not None}

    @app.get("/v1/models", tags=["openai"], dependencies=[Depends(require_key)])
    async def models() -> dict:
        try:
            ids = await backend.list_models()
        except backend_failures as exc:
            raise backend_errors(exc) from None
        now = int(time.time())
        return {"object": "list", "data": [{"id": m, "object": "model", "created": now, "owned_by": "supportbot"}
                                           for m in ids]}

    @app.post("/v1/chat/completions", tags=["openai"], dependencies=[Depends(require_key)])
    async def chat_completions(request: Request, body: ChatCompletionRequest):
        return await run_chat(request, body)

    @app.post("/ask", tags=["service"], response_model=AskResponse, dependencies=[Depends(require_key)])
    async def ask(request: Request, body: AskRequest) -> AskResponse:
        try:
            req, passages = await asyncio.to_thread(ask_request, body, system_prompt, kb)
        except RetrievalOffError as exc:
            raise APIError(422, str(exc), param="kb") from None
        return ask_response(json.loads((await run_chat(request, req)).body), passages)

    return app


async def _sse(chunks: AsyncIterator[dict]) -> AsyncIterator[bytes]:
    """Server-sent events in OpenAI's framing, ending with ``data: [DONE]``."""
    try:
        async for chunk in chunks:
            yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()
    except UpstreamHTTPError as exc:
        yield f"data: {json.dumps(exc.for_client()[1])}\n\n".encode()
    except UpstreamUnavailableError as exc:
        yield f"data: {json.dumps(error_body(str(exc), type_='upstream_error', code='upstream_unavailable'))}\n\n".encode()
    except Exception as exc:  # noqa: BLE001 - the status line is already sent; report in-band
        log.exception("stream failed")
        yield f"data: {json.dumps(error_body(f'{type(exc).__name__}: {exc}', type_='server_error'))}\n\n".encode()
    yield b"data: [DONE]\n\n"
