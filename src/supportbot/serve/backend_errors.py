"""The errors a backend raises, each mapped to an HTTP status by the app (see ``supportbot.serve.backends``)."""

from __future__ import annotations

from typing import Any

from supportbot.http_errors import describe
from supportbot.serve.schemas import clip, error_body

__all__ = ["InvalidPromptError", "ModelLoadError", "UnknownModelError", "UpstreamHTTPError",
           "UpstreamUnavailableError"]

SERVICE_SIDE = {401, 403, 407}  # the upstream refused this service's own credentials: not the client's fault


class UnknownModelError(LookupError):
    """The request names a model this server does not serve."""


class ModelLoadError(RuntimeError):
    """A model folder is missing or not a safetensors transformers folder."""


class InvalidPromptError(ValueError):
    """The model's chat template or tokenizer cannot take these messages."""


class UpstreamHTTPError(RuntimeError):
    """The upstream answered with an error status (or a 200 that is not a usable answer: ``status`` 502)."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"upstream answered {status}: {clip(str(body), 500)}")
        self.status, self.body = status, body

    def for_client(self) -> tuple[int, dict]:
        """The status and ``{"error": {message, type, param, code}}`` body to answer with: the upstream's
        4xx (the request's fault) keeps its status, type, param and code; a 5xx, a refused service key
        or a bad answer becomes a 502 ``upstream_error`` that quotes the upstream's message."""
        err = self.body.get("error", self.body) if isinstance(self.body, dict) else self.body
        fields = err if isinstance(err, dict) else {}
        message = fields.get("message") if isinstance(fields.get("message"), str) else str(err)
        if 400 <= self.status < 500 and self.status not in SERVICE_SIDE:
            code = fields.get("code")
            return self.status, error_body(f"upstream: {clip(message, 500)}",
                                           type_=str(fields.get("type") or "invalid_request_error"),
                                           param=fields.get("param") if isinstance(fields.get("param"), str) else None,
                                           code=None if code is None else str(code))
        return 502, error_body(f"upstream answered {self.status}: {clip(message, 500)}", type_="upstream_error",
                               code="upstream_error")


class UpstreamUnavailableError(RuntimeError):
    """The upstream could not be reached (connection refused, timeout) or broke the connection."""

    def __init__(self, url: str, exc: BaseException) -> None:
        super().__init__(f"upstream {url} did not answer: {describe(exc)}")
        self.url = url

