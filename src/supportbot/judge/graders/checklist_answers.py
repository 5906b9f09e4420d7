"""The checklist judge's answer records: grades of answers, the verdict of one answer, one model's rates."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from supportbot.judge import metrics as stats
from supportbot.judge.graders import checks as checklist
from supportbot.judge.labels import CHECKLIST_CLEAN, CHECKLIST_HALLUCINATED, ERROR, failure_counts
from supportbot.judge.results import warn
from supportbot.records import EvalItem

if TYPE_CHECKING:
    from supportbot.judge.context import Run

HALLUCINATED, CLEAN = CHECKLIST_HALLUCINATED, CHECKLIST_CLEAN


def grade_all(run: Run, jobs: list[tuple[EvalItem, str, str]], desc: str) -> list[checklist.AnswerGrade]:
    """Grades of ``(item, model, answer)`` jobs, in order (cache first)."""
    return run.client.map(lambda j: checklist.grade(run.client, j[0], j[2]), jobs, desc=desc, progress=run.progress)


def answer_record(item: EvalItem, model: str, g: checklist.AnswerGrade, risk_model: checklist.RiskModel | None,
                  threshold: float = 0.5) -> dict[str, Any]:
    """One answer's verdict: P(hallucinated) from the calibrated risk model (else the rule risk) > threshold."""
    risk = risk_model.predict(checklist.features(item, g)) if risk_model else g.risk
    verdict = ERROR if g.errors else (HALLUCINATED if risk > threshold else CLEAN)
    return {"id": str(item.id), "model": model, "answerable": item.answerable, "verdict": verdict,
            "risk": round(risk, 4), "rule_risk": round(g.risk, 4), "coverage": round(g.coverage, 4),
            "score": round(g.score, 4), "fired": g.fired, "declines": g.p.get("declines"), "threshold": threshold,
            "risk_model": risk_model is not None, "p": g.p, "errors": g.errors}


def risk_model(run: Run, calib: dict[str, Any] | None = None) -> checklist.RiskModel | None:
    """The risk model that ``calibrate`` fitted for this judge (``calib``, else its calibration file), else
    None (warned)."""
    params = (run.calibration(calib).get("hallucination") or {}).get("risk_model")
    if not params:
        warn(f"no fitted risk model for checklist judge {run.judge!r} in {run.judge_calibration_path}: using the rule "
             "risk > 0.5 (run `calibrate` first)")
        return None
    return checklist.RiskModel(**{**params, "features": tuple(params["features"])})


def summarize_model(records: list[dict[str, Any]], *, seed: int, n_resamples: int) -> dict[str, Any]:
    ok = [r for r in records if r["verdict"] in (HALLUCINATED, CLEAN)]
    hal = [r["verdict"] == HALLUCINATED for r in ok]
    unans = [r for r in ok if not r["answerable"]]
    fired: dict[str, int] = {}
    for r in ok:
        if r["verdict"] == HALLUCINATED and r["fired"]:
            kind = r["fired"].split(":")[-1] if r["fired"].startswith("fact:") else r["fired"].split(":")[0]
            fired[kind] = fired.get(kind, 0) + 1
    return {"n": len(records), "n_scored": len(ok), **failure_counts(records),
            "label_counts": {HALLUCINATED: sum(hal), CLEAN: len(hal) - sum(hal)},
            "hallucination_rate_overall": stats.bootstrap_ci(np.asarray(hal, float), n_resamples=n_resamples, seed=seed),
            "coverage": stats.bootstrap_ci(np.asarray([r["coverage"] for r in ok], float), n_resamples=n_resamples, seed=seed),
            "fired_by_check_kind": fired,
            # the checklist cannot tell minor from severe, nor "not attempted" on answerable items
            "attempted_rate": None, "hallucination_rate_attempted": None, "severe_rate": None,
            "unanswerable": {"n": len(unans), "correct_escalation_rate":
                             float(np.mean([r["verdict"] == CLEAN and (r["declines"] or 0) > 0.5 for r in unans]))
                             if unans else None}}
