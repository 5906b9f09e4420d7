"""The OpenAI chat-completions subset the service accepts and returns (pydantic models).

Requests are strict: an unknown field is a 422 naming it (nothing is silently ignored), except the
few OpenAI fields that are harmless here (``user``) and vLLM's ``ignore_eos`` extension. Text fields
must be encodable as UTF-8 (JSON can carry a lone surrogate such as ``"\\ud800"``, no tokenizer
can), and ``seed`` must fit in 64 bits (OpenAI's and vLLM's range).
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

Role = Literal["system", "user", "assistant"]
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _utf8(value: str) -> str:
    """Refuse text with a lone surrogate (valid JSON, but not Unicode text any model can read)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"text holds a lone surrogate U+{ord(value[exc.start]):04X} at position {exc.start}; "
                         "send valid Unicode (UTF-8) text") from None
    return value


Text = Annotated[str, AfterValidator(_utf8)]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    content: Text


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions`` body. ``n`` must be 1; temperature 0 means greedy decoding."""

    model_config = ConfigDict(extra="forbid")
    messages: list[ChatMessage] = Field(min_length=1)
    model: Text | None = None
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1, description="newer OpenAI name for max_tokens")
    seed: int | None = Field(None, ge=INT64_MIN, le=INT64_MAX)
    stop: Text | list[Text] | None = None
    n: Literal[1] = 1
    stream: bool = False
    stream_options: StreamOptions | None = None
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)
    ignore_eos: bool = Field(False, description="vLLM extension: keep generating past end-of-sequence (benchmarks)")
    user: Text | None = Field(None, description="accepted for OpenAI compatibility; not used")

    @field_validator("stop")
    @classmethod
    def _stops(cls, v: str | list[str] | None) -> list[str] | None:
        if v is None:
            return None
        stops = [v] if isinstance(v, str) else v
        if len(stops) > 4:
            raise ValueError("at most 4 stop sequences")
        if any(s == "" for s in stops):
            raise ValueError("stop sequences must be non-empty")
        return stops

    @model_validator(mode="after")
    def _consistent(self) -> ChatCompletionRequest:
        if self.top_logprobs and not self.logprobs:
            raise ValueError("top_logprobs needs logprobs: true")
        if self.max_tokens and self.max_completion_tokens and self.max_tokens != self.max_completion_tokens:
            raise ValueError("max_tokens and max_completion_tokens disagree; give one")
        if self.stream_options is not None and not self.stream:
            raise ValueError("stream_options needs stream: true")
        return self

    def requested_max_tokens(self) -> int | None:
        return self.max_tokens or self.max_completion_tokens

    def stop_list(self) -> list[str]:
        return list(self.stop or [])  # the validator made it a list


class AskRequest(BaseModel):
    """``POST /ask``: one support question, answered with the support system prompt, greedy."""

    model_config = ConfigDict(extra="forbid")
    question: Text = Field(min_length=1)
    model: Text | None = None
    max_tokens: int | None = Field(None, ge=1)
    kb: bool | None = Field(None, description="answer with KB passages (default: on when the service runs with --kb)")


class AskPassage(BaseModel):
    """A knowledge-base passage the answer's prompt contained."""
    rank: int
    id: str
    source: str
    heading: str
    score: float


class AskResponse(BaseModel):
    answer: str
    model: str
    finish_reason: str | None = None
    completion_tokens: int | None = None
    passages: list[AskPassage] | None = None  # None: retrieval off


# ---------------------------------------------------------------- responses (plain dict builders)

def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def top_entry(token: str, logprob: float) -> dict:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}


def logprob_entry(token: str, logprob: float, top: list[tuple[str, float]]) -> dict:
    """One ``choices[0].logprobs.content`` item in OpenAI's format."""
    return {**top_entry(token, logprob), "top_logprobs": [top_entry(t, lp) for t, lp in top]}


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def chat_completion(*, cid: str, model: str, text: str, finish_reason: str, prompt_tokens: int,
                    completion_tokens: int, logprobs: list[dict] | None) -> dict:
    return {
        "id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "logprobs": {"content": logprobs} if logprobs is not None else None,
                     "finish_reason": finish_reason}],
        "usage": usage(prompt_tokens, completion_tokens),
    }


def chat_chunk(*, cid: str, model: str, created: int, delta: dict, finish_reason: str | None = None,
               logprobs: list[dict] | None = None) -> dict:
    return {
        "id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
        "choices": [{"index": 0, "delta": delta,
                     "logprobs": {"content": logprobs} if logprobs is not None else None,
                     "finish_reason": finish_reason}],
    }


def clip(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters, with its full length (for client values echoed in messages)."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def error_body(message: str, *, type_: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict:
    """OpenAI's error shape (the ``openai`` client shows ``error.message``)."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}
