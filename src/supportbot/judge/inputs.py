"""Read the judge's inputs (eval items, answer files, the label files) with the judge's error type, and KB excerpts.

Every reader raises :class:`InputError` naming file, line and field; nothing is dropped silently.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from supportbot import records
from supportbot.cli_errors import read_text
from supportbot.jsonl import JsonlError, iter_jsonl
from supportbot.paths import KB_DIR, LABELS_DIR, RESULTS_DIR
from supportbot.records import EvalItem

ANSWERS_DIR = RESULTS_DIR / "answers"
RUBRIC_DIR = LABELS_DIR


class InputError(ValueError):
    """Bad judge input; the message names file, line and field."""


class HallucinationLabel(BaseModel):
    """A human label in ``data/labels/hallucination.jsonl``."""

    model_config = ConfigDict(extra="allow")
    id: str | int
    model: str
    answer: str
    label: Literal["0", "1", "2", "not_attempted"]
    rationale: str = Field(min_length=1)


class PairwiseLabel(BaseModel):
    """A human label in ``data/labels/pairwise.jsonl``."""

    model_config = ConfigDict(extra="allow")
    id: str | int
    answer_a: str
    answer_b: str
    label: Literal["A", "B", "tie"]
    rationale: str = Field(min_length=1)
    model_a: str = ""
    model_b: str = ""


def _rows(path: Path, model: type[BaseModel], *, normalise: Any = None) -> list[Any]:
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    out = []
    try:
        for line, row in iter_jsonl(path):
            if normalise:
                row = normalise(row)
            try:
                out.append(model.model_validate(row))
            except ValidationError as exc:
                e = exc.errors()[0]
                field = ".".join(str(x) for x in e["loc"]) or "row"
                raise InputError(f"{path}:{line}: field '{field}': {e['msg']}") from None
    except JsonlError as exc:
        raise InputError(str(exc)) from None
    return out


def load_eval_items(path: str | Path) -> dict[str, EvalItem]:
    """Eval items by id (as a string), read by ``supportbot.records.load_eval`` (duplicate ids are an error)."""
    try:
        return {str(item.id): item for item in records.load_eval(path)}
    except records.EvalFileError as exc:
        raise InputError(str(exc)) from None


def answers_path(model: str) -> Path:
    """A model name (``base``) or a path to an answers file."""
    return records.answers_path(model, ANSWERS_DIR)


def model_name(model: str) -> str:
    return Path(model).stem if model.endswith(".jsonl") else model


def _label_str(row: dict[str, Any]) -> dict[str, Any]:
    if "label" in row and isinstance(row["label"], int) and not isinstance(row["label"], bool):
        row = {**row, "label": str(row["label"])}
    return row


def load_hallucination_rubric(path: str | Path = RUBRIC_DIR / "hallucination.jsonl") -> list[HallucinationLabel]:
    return _rows(Path(path), HallucinationLabel, normalise=_label_str)


def load_pairwise_rubric(path: str | Path = RUBRIC_DIR / "pairwise.jsonl") -> list[PairwiseLabel]:
    return _rows(Path(path), PairwiseLabel)


# ------------------------------------------------------------------ truncation and KB excerpts
def truncate_words(text: str, max_words: int) -> str:
    """At most ``max_words`` whitespace words (≈1.35 tokens each), marked when cut."""
    words = text.split()
    if len(words) <= max_words:
        return text.strip()
    return " ".join(words[:max_words]) + " […truncated]"


_WORD = re.compile(r"[a-z0-9][a-z0-9.\-]*")


def _terms(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2}


def _units(markdown: str) -> list[str]:
    """Paragraphs of a KB file; table rows and list items are units of their own (headings dropped)."""
    out = []
    for block in re.split(r"\n\s*\n", markdown):
        lines = [ln.strip() for ln in block.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        if lines and all(ln.startswith(("|", "- ", "* ")) or ln[0].isdigit() for ln in lines):
            out += [ln for ln in lines if not re.fullmatch(r"[|\-: ]+", ln)]
        elif lines:
            out.append(" ".join(lines))
    return out


def kb_excerpt(refs: list[str], query: str, max_words: int, kb_dir: Path = KB_DIR) -> str:
    """The KB paragraphs that share most terms with ``query``, within ``max_words`` in all.

    ``refs`` are file names under ``data/kb/`` (with or without ``.md``, optionally ``file#anchor``);
    a missing file is an error, not a silently empty excerpt.
    """
    if not refs or max_words <= 0:
        return ""
    q = _terms(query)
    paras: list[tuple[int, int, str]] = []
    for order, ref in enumerate(refs):
        name = ref.split("#", 1)[0]
        path = kb_dir / (name if name.endswith(".md") else f"{name}.md")
        if not path.is_file():
            path = kb_dir / Path(name).name
        if not path.is_file():
            raise InputError(f"KB file {ref!r} not found under {kb_dir}")
        for text in _units(read_text(path, error=InputError)):
            paras.append((len(q & _terms(text)), -order, f"[{path.stem}] {text}"))
    paras.sort(key=lambda p: (p[0], p[1]), reverse=True)
    out, used = [], 0
    for score, _, text in paras:
        if used >= max_words or (score == 0 and out):
            break
        cut = truncate_words(text, max_words - used)
        out.append(cut)
        used += len(cut.split())
    return "\n".join(out)
