"""The checklist grader (``judge_mode: checklist``): every answer graded alone with yes/no checks.

Each answer of both models is graded alone (checks.py; the grades are cached, so the pairwise and
hallucination passes share their calls). Pairwise: per item the candidate wins when its score beats the
baseline's by more than the tie margin; there is no A/B order, so no position bias to measure.
Hallucination: an answer is hallucinated when the learned P(hallucinated) (checks.RiskModel) exceeds 0.5.
Margin and risk model come from ``calibrate`` (calibration/checklist.py: agreement measured out-of-fold on
the test split of label set v2, the values for new answers fitted on all its rows).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from supportbot.judge import checklist_injection
from supportbot.judge import metrics as stats
from supportbot.judge.calibration.checklist import calibrate, prompt_sha
from supportbot.judge.calibration.holistic import KAPPA_MIN
from supportbot.judge.graders import checks as checklist
from supportbot.judge.graders.base import Job, Pair, Record
from supportbot.judge.graders.checklist_answers import (  # noqa: F401 - re-exported for importers
    CLEAN,
    HALLUCINATED,
    answer_record,
    grade_all,
    risk_model,
    summarize_model,
)
from supportbot.judge.labels import ERROR
from supportbot.paths import repo_relative
from supportbot.records import EvalItem

if TYPE_CHECKING:
    from pathlib import Path

    from supportbot.judge.context import Run
    from supportbot.judge.endpoint.client import JudgeClient

AGREEMENT = "v2/agreement.json"  # inter-annotator agreement of the label set, beside the rubric files
COMPARISON = "judge_comparison.json"  # results/: one row per candidate judge (supportbot.judge.compare)


class ChecklistGrader:
    kind = "checklist"

    def pair_records(self, run: Run, pairs: list[Pair], calib: dict[str, Any] | None) -> tuple[list[Record], dict[str, Any]]:
        jobs = [(item, "", answer) for item, a, b in pairs for answer in (a, b)]
        grades = grade_all(run, jobs, "checklist (pairwise)")
        margin = run.threshold("pairwise", calib)
        records = []
        for k, (item, _, _) in enumerate(pairs):
            gx, gy = grades[2 * k], grades[2 * k + 1]
            if gx.errors or gy.errors:
                winner = ERROR
            else:
                winner = {"A": "x", "B": "y", "tie": "tie"}[checklist.pair_verdict(gx.score, gy.score, margin)]
            records.append({"id": str(item.id), "winner": winner, "score_x": round(gx.score, 4),
                            "score_y": round(gy.score, 4), "margin": margin})
        return records, {"tie_margin": margin, "note": "checklist judge: each answer graded alone, so no position bias "
                                                       "(consistency not applicable)"}

    def answer_records(self, run: Run, jobs: list[Job], calib: dict[str, Any] | None) -> tuple[list[Record], dict[str, Any]]:
        model = risk_model(run, calib)
        grades = grade_all(run, jobs, "checklist (hallucination)")
        records = [answer_record(item, name, g, model) for (item, name, _), g in zip(jobs, grades, strict=True)]
        return records, {"risk_model": model is not None}

    def hallucinated(self, record: Record) -> bool | None:
        return None if record["verdict"] == ERROR else record["verdict"] == HALLUCINATED

    def summarize_model(self, records: list[Record], *, seed: int, n_resamples: int) -> dict[str, Any]:
        return summarize_model(records, seed=seed, n_resamples=n_resamples)

    def difference(self, base: list[Record], cand: list[Record], *, seed: int, n_resamples: int) -> dict[str, Any]:
        b = {r["id"]: r["verdict"] == HALLUCINATED for r in base if r["verdict"] != ERROR}
        t = {r["id"]: r["verdict"] == HALLUCINATED for r in cand if r["verdict"] != ERROR}
        both = sorted(set(b) & set(t))
        return {"n_paired": len(both),
                "overall": stats.paired_bootstrap_diff([b[i] for i in both], [t[i] for i in both],
                                                       seed=seed, n_resamples=n_resamples)}

    def calibrate(self, run: Run) -> dict[str, Any]:
        res = calibrate(run.client, run.items(), run.rubric_dir, run.label_split, run.rubric_limit, progress=run.progress)
        cfg = run.cfg
        out: dict[str, Any] = {"judge": run.judge, "model": cfg.model, "judge_mode": "checklist",
                               "verdict_mode": cfg.verdict_mode, "prompt_sha256": prompt_sha(cfg),
                               "kappa_min": KAPPA_MIN, "labels": f"label set v2 in {repo_relative(run.rubric_dir)}, "
                               f"{run.label_split} split (src/supportbot/judge/splits.py); AI annotators", **res}
        agreement = run.rubric_dir / AGREEMENT
        if agreement.is_file():
            a = json.loads(agreement.read_text())
            out["annotators"] = {"who": a.get("annotators"),
                                 **{task: {"kappa": (a.get(task) or {}).get("kappa"), "n": (a.get(task) or {}).get("n")}
                                    for task in ("checks", "hallucination", "pairwise")}}
        comparison = run.out_dir / COMPARISON
        out["judges"] = json.loads(comparison.read_text())["judges"] if comparison.is_file() else None
        h, p = out["hallucination"] or {}, out["pairwise"] or {}
        out["calibrated"] = {"hallucination": (h.get("kappa") or -1) >= KAPPA_MIN,
                             "pairwise": (p.get("kappa") or -1) >= KAPPA_MIN}
        return out

    def hallucination_kappa(self, calib: dict[str, Any]) -> float | None:
        return (calib["hallucination"] or {}).get("kappa")

    def agreement(self, client: JudgeClient, items: dict[str, EvalItem], rubric_dir: Path, split: str,
                  limit: int | None) -> dict[str, Any]:
        return {"prompt_sha256": prompt_sha(client.cfg), **calibrate(client, items, rubric_dir, split, limit)}

    def main_run_calls(self, items: list[EvalItem]) -> int:
        return 2 * sum(len(checklist.checklist(it)) for it in items)

    def injection(self, run: Run) -> dict[str, Any]:
        return checklist_injection.do_injection(run)
