"""HTTP routes of the support service: ``create_app(settings, backend)`` returns the FastAPI app.

Every error answers in OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``:
422 for bad bodies and for ``max_tokens``/prompt length above the caps, 401 for a missing or wrong
bearer key (only when ``$SUPPORTBOT_API_KEY`` is set), 404 for an unknown model, 503 when the queue
is full.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from importlib import resources

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from supportbot.paths import load_prompt
from supportbot.serve.backends import QueueFullError, UnknownModelError, UpstreamHTTPError
from supportbot.serve.schemas import AskRequest, AskResponse, ChatCompletionRequest, ChatMessage, error_body
from supportbot.serve.settings import Settings

log = logging.getLogger("supportbot.serve")
STATIC_DIR = resources.files("supportbot.serve") / "static"


class APIError(HTTPException):
    def __init__(self, status: int, message: str, *, type_: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(status, message)
        self.body = error_body(message, type_=type_, param=param, code=code)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
        parts.append(f"{loc}: {err.get('msg')}")
    return "invalid request: " + "; ".join(parts)


def create_app(settings: Settings, backend) -> FastAPI:
    """The app around ``backend`` (``TransformersBackend`` or ``UpstreamBackend``)."""
    app = FastAPI(title="supportbot", version="0.1.0",
                  description="Tech-support assistant: OpenAI-compatible chat API, /ask, web chat at /.")
    app.state.settings, app.state.backend = settings, backend
    system_prompt = load_prompt(settings.system_prompt)

    @app.exception_handler(RequestValidationError)
    async def _on_validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(_validation_message(exc)), status_code=422)

    @app.exception_handler(HTTPException)
    async def _on_http(_req: Request, exc: HTTPException) -> JSONResponse:
        body = getattr(exc, "body", None) or error_body(str(exc.detail), type_="http_error")
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

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
            raise APIError(404, f"model {name!r} is not served here; available: {', '.join(models)}",
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
        return model, max_tokens

    def backend_errors(exc: Exception) -> Exception:
        if isinstance(exc, QueueFullError):
            return APIError(503, f"server busy: {exc}", type_="server_busy", code="queue_full")
        if isinstance(exc, UnknownModelError):
            return APIError(404, str(exc), param="model", code="model_not_found")
        if isinstance(exc, UpstreamHTTPError):
            body = exc.body if isinstance(exc.body, dict) and "error" in exc.body else error_body(str(exc))
            err = HTTPException(exc.status, str(exc))
            err.body = body
            return err
        return exc

    async def run_chat(body: ChatCompletionRequest):
        model, max_tokens = await checked(body)
        try:
            if body.stream:
                chunks = await backend.stream(body, model, max_tokens)
                return StreamingResponse(_sse(chunks), media_type="text/event-stream",
                                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
            return JSONResponse(await backend.chat(body, model, max_tokens))
        except (QueueFullError, UnknownModelError, UpstreamHTTPError) as exc:
            raise backend_errors(exc) from None

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(str(STATIC_DIR / "index.html"))

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict:
        return {"status": "ok", **backend.health()}

    @app.get("/config", tags=["service"], summary="What the web page needs (no secrets)")
    async def config() -> dict:
        return {"system_prompt": system_prompt, "max_tokens_cap": settings.max_tokens_cap,
                "default_max_tokens": settings.default_max_tokens, "auth_required": settings.api_key is not None}

    @app.get("/v1/models", tags=["openai"], dependencies=[Depends(require_key)])
    async def models() -> dict:
        try:
            ids = await backend.list_models()
        except UpstreamHTTPError as exc:
            raise backend_errors(exc) from None
        now = int(time.time())
        return {"object": "list", "data": [{"id": m, "object": "model", "created": now, "owned_by": "supportbot"}
                                           for m in ids]}

    @app.post("/v1/chat/completions", tags=["openai"], dependencies=[Depends(require_key)])
    async def chat_completions(body: ChatCompletionRequest):
        return await run_chat(body)

    @app.post("/ask", tags=["service"], response_model=AskResponse, dependencies=[Depends(require_key)])
    async def ask(body: AskRequest) -> AskResponse:
        req = ChatCompletionRequest(model=body.model, temperature=0.0, max_tokens=body.max_tokens,
                                    messages=[ChatMessage(role="system", content=system_prompt),
                                              ChatMessage(role="user", content=body.question)])
        out = (await run_chat(req)).body
        data = json.loads(out)
        choice = data["choices"][0]
        return AskResponse(answer=choice["message"]["content"] or "", model=data["model"],
                           finish_reason=choice.get("finish_reason"),
                           completion_tokens=(data.get("usage") or {}).get("completion_tokens"))

    return app


async def _sse(chunks: AsyncIterator[dict]) -> AsyncIterator[bytes]:
    """Server-sent events in OpenAI's framing, ending with ``data: [DONE]``."""
    try:
        async for chunk in chunks:
            yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()
    except UpstreamHTTPError as exc:
        yield f"data: {json.dumps(error_body(str(exc), type_='upstream_error'))}\n\n".encode()
    except Exception as exc:  # noqa: BLE001 - the status line is already sent; report in-band
        log.exception("stream failed")
        yield f"data: {json.dumps(error_body(f'{type(exc).__name__}: {exc}', type_='server_error'))}\n\n".encode()
    yield b"data: [DONE]\n\n"
