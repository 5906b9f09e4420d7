"""Pydantic schemas for training rows, eval items and the authoring YAML (unknown keys forbidden)."""

from __future__ import annotations

import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

Role = Literal["system", "user", "assistant"]
Domain = Literal["it", "product"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _non_empty(value: str) -> str:
    """Text a model can read and a person can see: no lone surrogate, no control character other than
    tab/newline, and at least one visible character (not only spaces or zero-width marks)."""
    if not value.strip():
        raise PydanticCustomError("empty", "empty text")
    for i, ch in enumerate(value):
        cat = unicodedata.category(ch)
        if cat == "Cs":
            raise PydanticCustomError("surrogate", "lone surrogate U+{code} at position {pos} (not valid Unicode text)",
                                      {"code": f"{ord(ch):04X}", "pos": i})
        if cat == "Cc" and ch not in "\t\n\r":
            raise PydanticCustomError("control", "control character U+{code} at position {pos}",
                                      {"code": f"{ord(ch):04X}", "pos": i})
    if all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in value):
        raise PydanticCustomError("invisible", "no visible text (only spaces and invisible characters such as U+200B)")
    return value


def _texts(v: list[str]) -> list[str]:
    """Every text of a list passes :func:`_non_empty`."""
    for s in v:
        _non_empty(s)
    return v


class Message(_Strict):
    """One chat turn."""

    role: Role
    content: str

    @field_validator("content")
    @classmethod
    def _not_empty(cls, v: str) -> str:
        return _non_empty(v)


def conversation_problems(roles: list[str], *, kind: Literal["train", "eval"]) -> list[tuple[str, str]]:
    """Return ``(field, problem)`` for every ordering problem of a conversation's roles.

    train: optional system first, then user/assistant alternating, starting with user, ending with
    assistant. eval: no system, user/assistant alternating from user, ending with user.
    """
    problems: list[tuple[str, str]] = []
    if not roles:
        return [("messages", "empty conversation")]
    start = 0
    if roles[0] == "system":
        if kind == "eval":
            problems.append(("messages[0].role", "system message not allowed in eval items (the runner adds it)"))
        start = 1
    expected = "user"
    for i in range(start, len(roles)):
        if roles[i] == "system":
            problems.append((f"messages[{i}].role", "system message only allowed as the first message"))
        elif roles[i] != expected:
            problems.append((f"messages[{i}].role", f"roles out of order: expected {expected}, got {roles[i]}"))
        expected = "assistant" if roles[i] == "user" else "user"
    if len(roles) == start:
        problems.append(("messages", "no user message"))
    elif kind == "train" and roles[-1] != "assistant":
        problems.append((f"messages[{len(roles) - 1}].role", "training row must end with an assistant message"))
    elif kind == "eval" and roles[-1] != "user":
        problems.append((f"messages[{len(roles) - 1}].role", "eval item must end with a user message"))
    return problems


def _check_conversation(messages: list[Message], kind: Literal["train", "eval"]) -> list[Message]:
    problems = conversation_problems([m.role for m in messages], kind=kind)
    if problems:
        text = "; ".join(f"{f}: {p}" for f, p in problems)
        raise PydanticCustomError("conversation", "{text}", {"text": text, "problems": problems})
    return messages


class TrainRow(_Strict):
    """A training/dev row: OpenAI chat ``messages`` plus optional provenance keys.

    Axolotl's ``chat_template`` loader removes every original column after tokenising, so the extra
    ``id``/``domain``/``category`` keys are ignored by training (it only reads ``messages`` and the
    reserved ``system``/``tools``/``images`` keys, which are not used here).
    """

    messages: list[Message]
    id: str | None = None
    domain: str | None = None
    category: str | None = None

    @field_validator("messages")
    @classmethod
    def _order(cls, v: list[Message]) -> list[Message]:
        return _check_conversation(v, "train")


class EvalRow(_Strict):
    """The strict authoring schema of a ``data/eval.jsonl`` row: conversation up to the user's question plus
    checkable reference facts (the runtime eval-item type is ``supportbot.records.EvalItem``)."""

    id: str = Field(min_length=1)
    domain: Domain
    category: str = Field(min_length=1)
    answerable: bool = True
    messages: list[Message]
    reference_answer: str
    key_facts: list[str] = Field(min_length=1)
    forbidden_claims: list[str] = Field(min_length=1)
    kb_refs: list[str] = Field(default_factory=list)

    @field_validator("reference_answer")
    @classmethod
    def _not_empty(cls, v: str) -> str:
        return _non_empty(v)

    @field_validator("key_facts", "forbidden_claims")
    @classmethod
    def _items(cls, v: list[str]) -> list[str]:
        for s in v:
            _non_empty(s)
        return v

    @field_validator("messages")
    @classmethod
    def _order(cls, v: list[Message]) -> list[Message]:
        return _check_conversation(v, "eval")


# ---------------------------------------------------------------------------- authoring YAML
SCENARIO_ID = r"^(it|prod)-[a-z0-9]+(-[a-z0-9]+)*$"
EVAL_ID = r"^eval-(it|prod)-[0-9]{3}$"


class Reply(_Strict):
    """One user reply to a clarifying question and the answer to it.

    ``direct``: openers that carry this reply's detail up front (their first reply is ``answer``);
    ``revised_answer``: the answer as revised (no escalation where the KB or general knowledge answers).
    Both are used only by ``build --variant fixed``; the default build keeps ``answer`` and no direct openers.
    """

    user: str
    answer: str
    direct: list[str] = Field(default_factory=list)
    revised_answer: str | None = None

    @field_validator("user", "answer", "revised_answer")
    @classmethod
    def _not_empty(cls, v: str | None) -> str | None:
        return None if v is None else _non_empty(v)

    @field_validator("direct")
    @classmethod
    def _direct(cls, v: list[str]) -> list[str]:
        return _texts(v)


class Clarify(_Strict):
    question: str
    replies: list[Reply] = Field(min_length=1)

    @field_validator("question")
    @classmethod
    def _not_empty(cls, v: str) -> str:
        return _non_empty(v)


class Scenario(_Strict):
    """A training scenario: several openers sharing one answer or one clarifying exchange.

    ``revised_answer`` (only with ``answer``): used by ``build --variant fixed`` instead of ``answer``.
    ``key_facts`` and ``answerable`` score the scenario's first reply when it lands in dev (written to
    ``dev_key_facts.jsonl``; required for every dev scenario).
    """

    id: str = Field(pattern=SCENARIO_ID)
    domain: Domain
    category: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    kb_refs: list[str] = Field(default_factory=list)
    openers: list[str] = Field(min_length=1)
    answer: str | None = None
    revised_answer: str | None = None
    clarify: Clarify | None = None
    answerable: bool | None = None
    key_facts: list[str] = Field(default_factory=list)

    @field_validator("openers", "key_facts")
    @classmethod
    def _openers(cls, v: list[str]) -> list[str]:
        return _texts(v)

    @field_validator("answer", "revised_answer")
    @classmethod
    def _answer(cls, v: str | None) -> str | None:
        return None if v is None else _non_empty(v)

    @model_validator(mode="after")
    def _answer_xor_clarify(self) -> Scenario:
        if (self.answer is None) == (self.clarify is None):
            raise PydanticCustomError("answer_xor_clarify", "give exactly one of `answer` or `clarify`")
        if self.revised_answer is not None and self.answer is None:
            raise PydanticCustomError("revised_without_answer",
                                      "`revised_answer` needs `answer` (in a clarify scenario revise the reply)")
        prefix = {"it": "it-", "product": "prod-"}[self.domain]
        if not self.id.startswith(prefix):
            raise PydanticCustomError("id_prefix", "id of a {domain} scenario must start with {prefix}",
                                      {"domain": self.domain, "prefix": prefix})
        return self


class AuthoringEvalItem(EvalRow):
    """An eval item as written in ``data/authoring/eval_*.yaml`` (stricter id pattern)."""

    id: str = Field(pattern=EVAL_ID)

    @model_validator(mode="after")
    def _prefix(self) -> AuthoringEvalItem:
        prefix = {"it": "eval-it-", "product": "eval-prod-"}[self.domain]
        if not self.id.startswith(prefix):
            raise PydanticCustomError("id_prefix", "id of a {domain} eval item must start with {prefix}",
                                      {"domain": self.domain, "prefix": prefix})
        return self


class DevFacts(_Strict):
    """One row of ``data/dev_key_facts.jsonl``: how a dev conversation's first reply is scored."""

    id: str = Field(min_length=1)
    answerable: bool
    key_facts: list[str] = Field(min_length=1)

    @field_validator("key_facts")
    @classmethod
    def _items(cls, v: list[str]) -> list[str]:
        return _texts(v)
