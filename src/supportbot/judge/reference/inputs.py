"""Inputs of the reference check: eval references, answer files and rubric rows, with file:line errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from supportbot import records
from supportbot.judge.inputs import InputError, load_eval_items, load_hallucination_rubric
from supportbot.judge.reference.config import ReferenceCheckError


@dataclass(frozen=True)
class EvalRef:
    id: str
    key_facts: list[str]
    forbidden_claims: list[str]
    reference_answer: str | None


def load_references(path: Path) -> dict[str, EvalRef]:
    """Eval items by id (as a string), read with the judge's own eval reader (``src/supportbot/judge/inputs.py``)."""
    try:
        items = load_eval_items(path)
    except InputError as exc:
        raise ReferenceCheckError(str(exc)) from None
    refs = {rid: EvalRef(rid, list(it.key_facts), list(it.forbidden_claims), it.reference_answer or None)
            for rid, it in items.items()}
    if not any(r.key_facts or r.forbidden_claims for r in refs.values()):
        raise ReferenceCheckError(f"{path}: no row has 'key_facts' or 'forbidden_claims'; nothing to check against")
    return refs


@dataclass(frozen=True)
class Answer:
    id: str
    model: str
    answer: str
    where: str
    label: str | None = None  # rubric rows only: "0", "1", "2" or "not_attempted"


def reference_answers(path: Path, refs: dict[str, EvalRef], model: str | None = None) -> list[Answer]:
    """Rows of ``results/answers/<model>.jsonl`` (read by ``supportbot.records.load_answers``); the model is the
    file's stem. An id not in the eval file is an error."""
    model = model or path.stem
    try:
        rows = records.load_answers(path)
    except records.AnswerFileError as exc:
        raise ReferenceCheckError(str(exc)) from None
    for rid, a in rows.items():
        if rid not in refs:
            raise ReferenceCheckError(f"{path}:{a.line}: field 'id' {a.row['id']!r} is not in the eval file")
    return [Answer(rid, model, a.answer, f"{path}:{a.line}") for rid, a in rows.items()]


def load_rubric(path: Path, refs: dict[str, EvalRef]) -> list[Answer]:
    """Rubric rows (judge/RUBRIC.md): ``id``, ``model``, ``answer``, ``label`` (0/1/2/not_attempted), ``rationale``."""
    if not path.is_file():
        raise SystemExit(f"error: rubric file {path} not found. `fit` needs the manually labelled rubric set "
                         "(judge/RUBRIC.md; rows: id, model, answer, label 0/1/2/not_attempted, rationale).")
    try:
        labels = load_hallucination_rubric(path)
    except InputError as exc:
        raise ReferenceCheckError(str(exc)) from None
    out = []
    for n, lab in enumerate(labels, 1):
        where = f"{path}: row {n}"
        if str(lab.id) not in refs:
            raise ReferenceCheckError(f"{where}: field 'id' {lab.id!r} is not in the eval file")
        out.append(Answer(str(lab.id), lab.model, lab.answer, where, lab.label))
    return out
