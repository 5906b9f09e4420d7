"""Agreement of a holistic judge (one pairwise / one hallucination prompt per judgment) with label set v2.

The same rows as the checklist judge's agreement (the split's rows of data/labels/hallucination_v2.jsonl and
pairwise_v2.jsonl, splits.py), judged with the judge's own prompts and cached; logprob thresholds and tie
bands out-of-fold (calibration/holistic.py, calibration/fit.py), so it compares with the checklist judge row
for row. Run it with ``judge/run.py agreement --judge <holistic judge>``.
"""

from __future__ import annotations

from typing import Any

from supportbot.judge.calibration import holistic as cal
from supportbot.judge.calibration.checklist import by_pair_kind, load_labels
from supportbot.judge.endpoint.client import JudgeClient
from supportbot.judge.inputs import HallucinationLabel, PairwiseLabel
from supportbot.records import EvalItem


def hallucination_agreement(client: JudgeClient, items: dict[str, EvalItem], rows: list[dict]) -> dict[str, Any]:
    m, _ = cal.calibrate_hallucination(client, items, [HallucinationLabel.model_validate(r) for r in rows], progress=True)
    b = m["binary"]
    return {"n": m["n_scored"], "kappa": b["kappa"], "accuracy": b["accuracy"], "sensitivity": b["sensitivity"],
            "specificity": b["specificity"], "four_class_kappa": m["four_class"]["kappa"],
            "n_unparseable": m["n_unparseable"], "n_failed": m["n_failed"],
            "thresholds_per_fold": m["thresholds_per_fold"], "out_of_fold": m["out_of_fold"]}


def pairwise_agreement(client: JudgeClient, items: dict[str, EvalItem], rows: list[dict]) -> dict[str, Any]:
    rubric = [PairwiseLabel.model_validate(r) for r in rows]
    m, records = cal.calibrate_pairwise(client, items, rubric, progress=True)
    to_ab = {"x": "A", "y": "B", "tie": "tie"}
    clear = [(r.label, to_ab.get(rec["winner"])) for r, rec in zip(rubric, records, strict=True) if r.label != "tie"]
    scored = [(r, to_ab[rec["winner"]]) for r, rec in zip(rows, records, strict=True) if rec["winner"] in to_ab]
    return {"n": m["n_scored"], "kappa": m["kappa"], "accuracy": m["accuracy"], "clear_winner_pairs": len(clear),
            "by_pair_kind": by_pair_kind([r for r, _ in scored], [r["label"] for r, _ in scored], [v for _, v in scored]),
            "clear_winner_agreement": sum(t == p for t, p in clear) / len(clear) if clear else None,
            "position_consistency": m["position_consistency"], "first_position_rate": m["first_position_rate"],
            "n_unparseable": m["n_unparseable"], "n_failed": m["n_failed"],
            "margins_per_fold": m["margins_per_fold"], "out_of_fold": m["out_of_fold"]}


def agreement(client: JudgeClient, items: dict[str, EvalItem], rubric_dir: Any, split: str,
              limit: int | None) -> dict[str, Any]:
    """The holistic judge's agreement section of ``judge/run.py agreement``."""
    h_rows, p_rows, _ = load_labels(rubric_dir, split, limit)
    return {"split": split, "checklist": None, "hallucination": hallucination_agreement(client, items, h_rows),
            "pairwise": pairwise_agreement(client, items, p_rows) if p_rows else None}
