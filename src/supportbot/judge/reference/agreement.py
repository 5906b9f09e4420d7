"""Agreement of the reference check's flags with a binary truth: the rubric labels or the LLM judge's verdicts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from supportbot.jsonl import JsonlError, iter_jsonl
from supportbot.judge.metrics import cohen_kappa, sensitivity_specificity
from supportbot.judge.reference.config import ReferenceCheckError


def agreement(pred: Sequence[bool], truth: Sequence[bool]) -> dict[str, Any]:
    """Binary agreement of ``pred`` (flagged) with ``truth`` (hallucination per the rubric)."""
    p, t = [bool(x) for x in pred], [bool(x) for x in truth]
    ss = sensitivity_specificity(t, p)
    sens, spec = ss["sensitivity"], ss["specificity"]
    n = len(p)
    r = lambda v: None if v is None else round(float(v), 4)  # noqa: E731
    return {"n": n, "balanced_accuracy": r(None if sens is None or spec is None else (sens + spec) / 2),
            "accuracy": r((ss["tp"] + ss["tn"]) / n if n else None), "sensitivity": r(sens), "specificity": r(spec),
            "cohen_kappa": r(cohen_kappa(t, p, [False, True])),
            "confusion": {k: ss[k] for k in ("tp", "fp", "tn", "fn")}}


def load_judgments(path: Path) -> dict[tuple[str, str], str]:
    """Hallucination verdicts of the LLM judge (``results/judgments/hallucination-<judge>.jsonl``) by (model, id)."""
    if not path.is_file():
        raise ReferenceCheckError(f"{path}: judgments file not found (python judge/run.py hallucination writes it)")
    out: dict[tuple[str, str], str] = {}
    try:
        for line, row in iter_jsonl(path, allow_truncated_tail=True):
            for key in ("id", "model", "verdict"):
                if key not in row:
                    raise ReferenceCheckError(f"{path}:{line}: missing field '{key}'")
            out[(str(row["model"]), str(row["id"]))] = str(row["verdict"])
    except JsonlError as exc:
        raise ReferenceCheckError(str(exc)) from None
    return out


def compare_with_judge(rows: list[dict], verdicts: dict[tuple[str, str], str]) -> dict[str, Any]:
    """Mark each row with the judge's verdict and whether the two disagree; agreement per model.

    Only answers the judge graded 0, 1 or 2 are compared (not ``not_attempted``, unparseable or errors).
    """
    per_model: dict[str, Any] = {}
    for model in sorted({r["model"] for r in rows}):
        pred, truth = [], []
        for r in (r for r in rows if r["model"] == model):
            v = verdicts.get((model, str(r["id"])))
            r["judge_verdict"] = v
            r["disagrees_with_judge"] = None
            if v in ("0", "1", "2"):
                r["disagrees_with_judge"] = r["flagged"] != (v != "0")
                pred.append(r["flagged"])
                truth.append(v != "0")
        per_model[model] = {"compared": len(pred), "disagreements": sum(p != t for p, t in zip(pred, truth, strict=True)),
                            "agreement_with_judge": agreement(pred, truth) if pred else None}
    return per_model
