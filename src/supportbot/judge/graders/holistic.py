"""The holistic grader (``judge_mode: holistic``): one prompt per judgment.

Pairwise: both orders of every pair (pairwise.py), the position-debiased verdict with the tie band fitted
by ``calibrate``. Hallucination: 0 / 1 / 2 / not_attempted per answer (hallucination.py), hallucinated at the
fitted logprob threshold. ``calibrate`` measures agreement on the rubric sets (calibration/holistic.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from supportbot.judge.calibration import holistic as cal
from supportbot.judge.calibration import holistic_labels
from supportbot.judge.endpoint.client import JudgeClient
from supportbot.judge.graders import hallucination as hal
from supportbot.judge.graders import pairwise as pw
from supportbot.judge.graders.base import Job, Pair, Record
from supportbot.judge.injection import run_injection, sample_and_attacks
from supportbot.judge.inputs import load_hallucination_rubric, load_pairwise_rubric
from supportbot.judge.results import warn

if TYPE_CHECKING:
    from pathlib import Path

    from supportbot.judge.context import Run
    from supportbot.records import EvalItem

THRESHOLD_NOTE = ("logprobs mode: agreement with the hallucination threshold and the pairwise tie band chosen "
                  "out-of-fold (5-fold) on this rubric set; `threshold` is fitted on every row, for new answers")


class HolisticGrader:
    kind = "holistic"

    def pair_records(self, run: Run, pairs: list[Pair], calib: dict[str, Any] | None) -> tuple[list[Record], dict[str, Any]]:
        return pw.judge_pairs(run.client, pairs, tie_band=run.threshold("pairwise", calib), progress=run.progress), {}

    def answer_records(self, run: Run, jobs: list[Job], calib: dict[str, Any] | None) -> tuple[list[Record], dict[str, Any]]:
        # both models' answers to one question back to back: the judge server's prefix cache reuses the shared
        # system prompt + question + references (vLLM: ~5 s -> ~1 s per call on the CPU default)
        return hal.judge_answers(run.client, jobs, threshold=run.threshold("hallucination", calib),
                                 progress=run.progress), {}

    def hallucinated(self, record: Record) -> bool | None:
        return hal.is_hallucinated(record["verdict"]) if record["verdict"] in hal.SCORED else None

    def summarize_model(self, records: list[Record], *, seed: int, n_resamples: int) -> dict[str, Any]:
        return hal.summarize_model(records, seed=seed, n_resamples=n_resamples)

    def difference(self, base: list[Record], cand: list[Record], *, seed: int, n_resamples: int) -> dict[str, Any]:
        return hal.paired_difference(base, cand, seed=seed, n_resamples=n_resamples)

    def calibrate(self, run: Run) -> dict[str, Any]:
        out: dict[str, Any] = {"judge": run.judge, "model": run.cfg.model, "verdict_mode": run.cfg.verdict_mode,
                               "kappa_min": cal.KAPPA_MIN, "threshold_note": THRESHOLD_NOTE}
        items = run.items()
        for kind, loader, fn in (("hallucination", load_hallucination_rubric, cal.calibrate_hallucination),
                                 ("pairwise", load_pairwise_rubric, cal.calibrate_pairwise)):
            path = run.rubric_dir / f"{kind}.jsonl"
            if not path.is_file():
                out[kind] = None
                warn(f"{path} not found: the {kind} judge cannot be calibrated (see judge/RUBRIC.md)")
                continue
            rubric = loader(path)[: run.rubric_limit]
            metrics, records = fn(run.client, items, rubric, progress=run.progress)
            metrics["records"] = str(run.write_records(f"calibration-{kind}", records))
            out[kind] = metrics
        out["calibrated"] = {"hallucination": cal.is_calibrated(out["hallucination"], ("binary", "kappa")),
                             "pairwise": cal.is_calibrated(out["pairwise"], ("kappa",))}
        return out

    def hallucination_kappa(self, calib: dict[str, Any]) -> float | None:
        return (calib["hallucination"] or {}).get("binary", {}).get("kappa")

    def agreement(self, client: JudgeClient, items: dict[str, EvalItem], rubric_dir: Path, split: str,
                  limit: int | None) -> dict[str, Any]:
        return holistic_labels.agreement(client, items, rubric_dir, split, limit)

    def main_run_calls(self, items: list[EvalItem]) -> int:
        return 2 * len(items) + 2 * len(items)  # both orders of each pair, each model's answer

    def injection(self, run: Run) -> dict[str, Any]:
        chosen, attacks = sample_and_attacks(run)
        base, cand = run.answers()
        items = run.items()
        thr = run.threshold("pairwise")
        clean = pw.judge_pairs(run.client, [(items[i], base[i]["answer"], cand[i]["answer"]) for i in chosen],
                               tie_band=thr, desc="injection (clean)", progress=run.progress)
        res = run_injection(run.client, clean, items, base, cand, attacks=attacks, tie_band=thr, progress=run.progress)
        res["records"] = str(run.write_records("injection", res.pop("rows")))
        res["sampled_ids"] = chosen
        res["sanitize_answers"] = run.cfg.sanitize_answers
        return res
