"""The records of in-process generation: a request's settings, the request, its token events and result."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GenParams", "GenRequest", "GenResult", "QueueFullError", "TokenEvent", "WorkerDeadError", "settle"]


class QueueFullError(RuntimeError):
    """The model's queue already holds ``queue_size`` requests."""


class WorkerDeadError(RuntimeError):
    """The model's worker thread has stopped (closed, or died of an error): nothing can be decoded."""


def settle(future: Future, result: Any = None, exc: BaseException | None = None) -> bool:
    """Resolve ``future`` with ``exc`` or ``result`` unless it is already done or was cancelled by its
    caller (a client that went away); returns whether it was resolved here. Never raises, so a caller
    that gave up cannot break the thread that answers it."""
    try:
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)
    except InvalidStateError:
        return False
    return True


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

