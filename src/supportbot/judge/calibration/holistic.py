"""Judge-vs-human agreement on the rubric sets, and threshold fitting for logprob verdicts.

Hallucination: 4-class (0/1/2/not_attempted) accuracy, Cohen's kappa, macro-F1 and confusion
matrix, plus the binary view (hallucinated = label 1 or 2) with sensitivity and specificity, which
feed the Rogan–Gladen correction. Pairwise: accuracy (all pairs and decisive pairs only), kappa,
macro-F1, confusion matrix, position consistency and first-position rate (position bias).
In logprobs mode the hallucination threshold and the pairwise tie band are chosen out-of-fold
(calibration/fit.py): each row's verdict uses the value fitted on the other folds, so agreement is never
measured on the rows a value was chosen on; the value a main run applies is fitted on every row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from supportbot.judge import metrics as stats
from supportbot.judge.calibration.fit import best_on_grid, out_of_fold
from supportbot.judge.endpoint.client import JudgeClient
from supportbot.judge.graders import hallucination as hal
from supportbot.judge.graders import pairwise as pw
from supportbot.judge.inputs import HallucinationLabel, InputError, PairwiseLabel
from supportbot.judge.labels import (
    DECISIVE_VERDICTS,
    HALLUCINATION_VERDICTS,
    PAIRWISE_VERDICTS,
    failure_counts,
)
from supportbot.records import EvalItem

KAPPA_MIN = 0.4
H_LABELS = list(HALLUCINATION_VERDICTS)
P_LABELS = list(PAIRWISE_VERDICTS)
THRESHOLD_GRID = [round(x, 3) for x in np.linspace(0.02, 0.98, 49)]  # hallucination: P(1)+P(2) cut
TIE_BAND_GRID = [0.0, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3]  # pairwise


def _item(items: dict[str, EvalItem], rid: str | int, where: str) -> EvalItem:
    if str(rid) not in items:
        raise InputError(f"{where}: rubric id {rid!r} is not in the eval file")
    return items[str(rid)]


def oof_threshold(records: list[dict[str, Any]], kappa: Callable[[list[int], float], float | None],
                  rethreshold: Callable[[list[dict[str, Any]], float], list[dict[str, Any]]], grid: list[float],
                  prefer: float, seed: int) -> tuple[list[dict[str, Any]], list[float], float]:
    """Out-of-fold re-thresholded records, the value chosen per fold, and the value fitted on every row.
    ``kappa(rows, value)``: agreement on those rows with that value."""
    def fit(rows: list[int]) -> float:
        return best_on_grid(grid, lambda t: kappa(rows, t), prefer)

    def predict(held: list[int], value: float) -> list[dict[str, Any]]:
        return rethreshold([records[i] for i in held], value)

    oof, chosen = out_of_fold(len(records), fit, predict, seed=seed)
    return oof, chosen, fit(list(range(len(records))))


def agreement(truth: list[str], pred: list[str], labels: list[str]) -> dict[str, Any]:
    m = stats.confusion_matrix(truth, pred, labels)
    return {"n": len(truth), "accuracy": float(np.mean([t == p for t, p in zip(truth, pred, strict=True)])) if truth else None,
            "kappa": stats.cohen_kappa_from_matrix(m), "macro_f1": stats.macro_f1(truth, pred, labels),
            "labels": labels, "confusion_matrix": m.tolist(), "confusion_axes": "rows: human, columns: judge"}


# ------------------------------------------------------------------ hallucination
def hallucination_metrics(rubric: list[HallucinationLabel], records: list[dict[str, Any]]) -> dict[str, Any]:
    pairs = [(r.label, rec["verdict"]) for r, rec in zip(rubric, records, strict=True) if rec["verdict"] in H_LABELS]
    truth, pred = [p[0] for p in pairs], [p[1] for p in pairs]
    tb, pb = [hal.is_hallucinated(t) for t in truth], [hal.is_hallucinated(p) for p in pred]
    binary = agreement(["yes" if t else "no" for t in tb], ["yes" if p else "no" for p in pb], ["yes", "no"])
    binary.update(stats.sensitivity_specificity(tb, pb))
    return {"n_rubric": len(rubric), "n_scored": len(pairs),
            **failure_counts(records),
            "four_class": agreement(truth, pred, H_LABELS), "binary": binary,
            "truth_binary": tb, "judge_binary": pb}


def calibrate_hallucination(client: JudgeClient, items: dict[str, EvalItem], rubric: list[HallucinationLabel],
                            *, progress: bool = True) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    jobs = [(_item(items, r.id, f"hallucination rubric row {i + 1}"), r.model, r.answer) for i, r in enumerate(rubric)]
    records = hal.judge_answers(client, jobs, desc="calibrate hallucination", progress=progress)
    threshold = chosen = None
    if client.cfg.uses_logprobs:
        def kappa(rows: list[int], t: float) -> float | None:
            return hallucination_metrics([rubric[i] for i in rows],
                                         hal.rethreshold([records[i] for i in rows], t))["binary"]["kappa"]
        records, chosen, threshold = oof_threshold(records, kappa, hal.rethreshold, THRESHOLD_GRID, 0.5, seed=0)
    out = hallucination_metrics(rubric, records)
    out.update(threshold=threshold, thresholds_per_fold=chosen, out_of_fold=chosen is not None)
    for rec, r in zip(records, rubric, strict=True):
        rec["human_label"] = r.label
    return out, records


# ------------------------------------------------------------------ pairwise
def pairwise_metrics(rubric: list[PairwiseLabel], records: list[dict[str, Any]]) -> dict[str, Any]:
    to_ab = {"x": "A", "y": "B", "tie": "tie"}
    pairs = [(r.label, to_ab[rec["winner"]]) for r, rec in zip(rubric, records, strict=True) if rec["winner"] in to_ab]
    truth, pred = [p[0] for p in pairs], [p[1] for p in pairs]
    decisive = [(t, p) for t, p in pairs if t != "tie" and p != "tie"]
    ok = [rec for rec in records if rec["winner"] in to_ab]
    single = [o["verdict"] for rec in ok for o in (rec["order_xy"], rec["order_yx"]) if o["verdict"] in DECISIVE_VERDICTS]
    inconsistent = [rec for rec in ok if not rec["consistent"]]
    return {"n_rubric": len(rubric), "n_scored": len(pairs),
            **failure_counts(records, "winner"),
            **agreement(truth, pred, P_LABELS),
            "decisive_only": {"n": len(decisive), "coverage": len(decisive) / len(pairs) if pairs else None,
                              "accuracy": float(np.mean([t == p for t, p in decisive])) if decisive else None},
            "position_consistency": float(np.mean([rec["consistent"] for rec in ok])) if ok else None,
            "first_position_rate": float(np.mean([v == "A" for v in single])) if single else None,
            "inconsistent_first_both": sum(rec["order_xy"]["verdict"] == "A" and rec["order_yx"]["verdict"] == "A"
                                           for rec in inconsistent),
            "inconsistent_second_both": sum(rec["order_xy"]["verdict"] == "B" and rec["order_yx"]["verdict"] == "B"
                                            for rec in inconsistent)}


def calibrate_pairwise(client: JudgeClient, items: dict[str, EvalItem], rubric: list[PairwiseLabel],
                       *, progress: bool = True) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    pairs = [(_item(items, r.id, f"pairwise rubric row {i + 1}"), r.answer_a, r.answer_b) for i, r in enumerate(rubric)]
    records = pw.judge_pairs(client, pairs, desc="calibrate pairwise", progress=progress)
    threshold = chosen = None
    if client.cfg.uses_logprobs:
        def kappa(rows: list[int], t: float) -> float | None:
            return pairwise_metrics([rubric[i] for i in rows], pw.rethreshold([records[i] for i in rows], t))["kappa"]
        records, chosen, threshold = oof_threshold(records, kappa, pw.rethreshold, TIE_BAND_GRID, 0.0, seed=1)
    out = pairwise_metrics(rubric, records)
    out.update(threshold=threshold, margins_per_fold=chosen, out_of_fold=chosen is not None)
    for rec, r in zip(records, rubric, strict=True):
        rec["human_label"] = r.label
    return out, records


def is_calibrated(section: dict[str, Any] | None, kappa_path: tuple[str, ...]) -> bool:
    cur: Any = section
    for k in kappa_path:
        cur = cur.get(k) if isinstance(cur, dict) else None
    return isinstance(cur, float) and cur >= KAPPA_MIN
