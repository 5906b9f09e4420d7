"""The records of in-process generation: a request's settings, the request, its token events and result."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

__all__ = ["GenParams", "GenRequest", "GenResult", "QueueFullError", "TokenEvent"]


class QueueFullError(RuntimeError):
    """The model's queue already holds ``queue_size`` requests."""


@dataclass(frozen=True)
class GenParams:
    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    logprobs: bool = False
    top_logprobs: int = 0
    ignore_eos: bool = False


@dataclass
class TokenEvent:
    """One decoding step of one row: the text that can be shown now and, if asked, the token's logprobs."""

    delta: str
    logprob: dict | None = None


@dataclass
class GenResult:
    text: str
    finish_reason: str  # stop | length | cancelled
    prompt_tokens: int
    completion_tokens: int
    logprobs: list[dict] | None = None


@dataclass
class GenRequest:
    input_ids: list[int]
    params: GenParams
    on_event: Callable[[TokenEvent], None] | None = None
    future: Future = field(default_factory=Future)
    cancelled: threading.Event = field(default_factory=threading.Event)

