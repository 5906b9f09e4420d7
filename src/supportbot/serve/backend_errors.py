"""The errors a backend raises, each mapped to an HTTP status by the app (see ``supportbot.serve.backends``)."""

from __future__ import annotations

from typing import Any

from supportbot.http_errors import describe

__all__ = ["InvalidPromptError", "ModelLoadError", "UnknownModelError", "UpstreamHTTPError",
           "UpstreamUnavailableError"]


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

