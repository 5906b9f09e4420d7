"""The records every stage shares: eval items (``data/eval.jsonl``) and answer files (``results/answers/<arm>.jsonl``).

:class:`EvalItem` is the one eval-item type (the answer generator, the benches, the judge); :func:`load_eval` and
:func:`load_answers` are the one reader of each file, with file:line:field errors. ``supportbot.data.schema`` is
the stricter authoring validator of the data files (``python -m supportbot.data validate``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from supportbot.jsonl import JsonlError, iter_jsonl

SYSTEM_PROMPT_NAME = "support_system"
ROLES = {"system", "user", "assistant"}


class EvalFileError(ValueError):
    """A malformed eval file; the message names file, line and field."""


class EvalItem(BaseModel):
    """One eval question: the conversation to answer (no system prompt, no trailing reference turn) and what
    the judge checks the answer against; extra keys of the row are kept."""

    model_config = ConfigDict(extra="allow")
    id: str | int
    messages: list[dict[str, str]] = Field(min_length=1)
    domain: str = ""
    category: str = ""
    answerable: bool = True
    reference_answer: str = ""
    key_facts: list[str] = []
    forbidden_claims: list[str] = []
    kb_refs: list[str] = []
    line: int = 0  # line in the eval file (0: built in code)

    @property
    def question(self) -> str:
        return self.messages[-1]["content"]


def load_eval(path: str | Path) -> list[EvalItem]:
    """Read ``data/eval.jsonl``-style rows: ``{"id": ..., "messages": [...], ...}``.

    ``messages`` must be non-empty, each with a known ``role`` and a string ``content``, and
    end with a ``user`` turn; a single trailing ``assistant`` turn is taken as the reference answer
    and not sent. A ``system`` message is an error (the generator prepends the project's support
    system prompt to every item, so that base and tuned models see the same instructions).
    """
    path = Path(path)
    if not path.is_file():
        raise EvalFileError(f"{path}: eval file not found")
    items: list[EvalItem] = []
    seen: dict[Any, int] = {}
    try:
        rows = list(iter_jsonl(path))
    except JsonlError as exc:
        raise EvalFileError(str(exc)) from None
    for line, row in rows:
        where = f"{path}:{line}"
        if "id" not in row:
            raise EvalFileError(f"{where}: missing field 'id'")
        rid = row["id"]
        if not isinstance(rid, str | int) or isinstance(rid, bool) or rid == "":
            raise EvalFileError(f"{where}: field 'id' must be a non-empty string or an integer, got {rid!r}")
        if str(rid) in seen:
            raise EvalFileError(f"{where}: duplicate id {rid!r} (first on line {seen[str(rid)]})")
        seen[str(rid)] = line
        msgs = row.get("messages")
        if not isinstance(msgs, list) or not msgs:
            raise EvalFileError(f"{where}: field 'messages' must be a non-empty list")
        for j, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                raise EvalFileError(f"{where}: messages[{j}] must be {{'role': system|user|assistant, 'content': str}}")
            if m["role"] == "system":
                raise EvalFileError(f"{where}: messages[{j}] is a system message; the generator adds "
                                    f"prompts/{SYSTEM_PROMPT_NAME}.txt itself, so eval rows must not carry one")
        if msgs[-1]["role"] == "assistant":
            msgs = msgs[:-1]  # the reference answer
        if not msgs or msgs[-1]["role"] != "user":
            raise EvalFileError(f"{where}: field 'messages' must end with a user turn (optionally followed by the reference answer)")
        try:
            items.append(EvalItem.model_validate(
                {**row, "messages": [{"role": m["role"], "content": m["content"]} for m in msgs], "line": line}))
        except ValidationError as exc:
            e = exc.errors()[0]
            raise EvalFileError(f"{where}: field '{'.'.join(str(x) for x in e['loc']) or 'row'}': {e['msg']}") from None
    if not items:
        raise EvalFileError(f"{path}: no eval rows")
    return items


# ------------------------------------------------------------------ answers (eval/generate.py output)
class AnswerFileError(ValueError):
    """A malformed answers file; the message names file and line."""


@dataclass(frozen=True)
class Answer:
    """One row of ``results/answers/<arm>.jsonl``: the answer text, the line it is on and the whole row
    (model, decoding, fingerprint, retrieval settings, token counts)."""
    id: str
    answer: str
    line: int
    row: dict[str, Any]


def answer_rows(path: str | Path) -> dict[str, dict[str, Any]]:
    """The whole row of each answer by id (model, token counts...), read by :func:`load_answers`."""
    return {rid: a.row for rid, a in load_answers(path).items()}


def answers_path(model: str, answers_dir: Path) -> Path:
    """A model/arm name (``base``) -> ``answers_dir/base.jsonl``; a path ending in ``.jsonl`` is itself."""
    p = Path(model)
    return p if p.suffix == ".jsonl" else Path(answers_dir) / f"{model}.jsonl"


def load_answers(path: str | Path) -> dict[str, Answer]:
    """Answers by id (as a string), the one reader of a finished answers file. Every row needs ``id`` and a
    string ``answer``.

    One rule for every reader: a repeated id is an error naming both lines (a finished answer is never
    replaced, and no row is silently dropped); a broken last line (a killed run) is skipped, so its id
    counts as missing (the judge reports it under ``missing_answers``, a resumed generation answers it again)."""
    path = Path(path)
    if not path.is_file():
        raise AnswerFileError(f"{path}: answers file not found (eval/generate.py writes results/answers/<model>.jsonl)")
    out: dict[str, Answer] = {}
    try:
        for line, row in iter_jsonl(path, allow_truncated_tail=True):
            for field in ("id", "answer"):
                if field not in row:
                    raise AnswerFileError(f"{path}:{line}: missing field '{field}'")
            if not isinstance(row["answer"], str):
                raise AnswerFileError(f"{path}:{line}: field 'answer' must be a string")
            rid = str(row["id"])
            if rid in out:
                raise AnswerFileError(f"{path}:{line}: duplicate id {row['id']!r} (first on line {out[rid].line})")
            out[rid] = Answer(rid, row["answer"], line, row)
    except JsonlError as exc:
        raise AnswerFileError(str(exc)) from None
    return out
