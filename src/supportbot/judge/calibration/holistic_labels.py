#!/usr/bin/env python
"""Agreement of a holistic judge (one pairwise / one hallucination prompt per judgment) with label set v2.

    python judge/holistic_calibrate.py --judge local-qwen0.5b            # -> results/judgments/holistic-calibration-<judge>-test.json
    python judge/holistic_calibrate.py --judge local-qwen1.5b --split test

The same rows as judge/checklist_calibrate.py (the test split of judge/rubric/hallucination_v2.jsonl
and pairwise_v2.jsonl, judge/splits.py), judged with the judge's own prompts (judge/prompting.py)
and cached. For logprob verdicts the hallucination threshold and the pairwise tie band are chosen
on the other folds (5-fold) and applied to the held-out one: agreement is out-of-fold, so it can be
compared with the checklist judge's row for row.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from supportbot.judge.calibration import holistic as cal
from supportbot.judge.calibration.checklist import FOLDS, RUBRIC, by_pair_kind, folds, load_labels
from supportbot.judge.endpoint.client import JudgeClient
from supportbot.judge.endpoint.config import load_config
from supportbot.judge.endpoint.launch import judge_endpoint, launch_dtype
from supportbot.judge.graders import hallucination as hal
from supportbot.judge.graders import pairwise as pw
from supportbot.judge.inputs import HallucinationLabel, PairwiseLabel, load_eval_items
from supportbot.paths import DATA_DIR, RESULTS_DIR, SMALL_HOLISTIC_JUDGE
from supportbot.records import EvalItem
from supportbot.training.manifest import hardware

_HERE = Path(__file__).resolve().parent


def out_of_fold(records: list[dict[str, Any]], fit: Any, apply: Any, seed: int) -> tuple[list[dict[str, Any]], list[float]]:
    """Each fold's records re-thresholded with the value ``fit`` chose on the other folds."""
    f = folds(len(records), seed=seed)
    out: list[dict[str, Any] | None] = [None] * len(records)
    chosen = []
    for k in range(FOLDS):
        train = [i for i in range(len(records)) if f[i] != k]
        t = fit(train)
        chosen.append(t)
        held = [i for i in range(len(records)) if f[i] == k]
        for i, rec in zip(held, apply([records[i] for i in held], t), strict=True):
            out[i] = rec
    return out, chosen  # type: ignore[return-value]


def hallucination_agreement(client: JudgeClient, items: dict[str, EvalItem], rows: list[dict]) -> dict[str, Any]:
    rubric = [HallucinationLabel.model_validate(r) for r in rows]
    records = hal.judge_answers(client, [(items[str(r.id)], r.model, r.answer) for r in rubric], desc="holistic hallucination")
    chosen = None
    if client.cfg.uses_logprobs:
        def fit(train: list[int]) -> float:
            sub = [rubric[i] for i in train]
            return cal.fit_threshold(lambda t: cal.hallucination_metrics(sub, hal.rethreshold([records[i] for i in train], t))
                                     ["binary"]["kappa"])
        records, chosen = out_of_fold(records, fit, hal.rethreshold, seed=0)
    m = cal.hallucination_metrics(rubric, records)
    b = m["binary"]
    return {"n": m["n_scored"], "kappa": b["kappa"], "accuracy": b["accuracy"], "sensitivity": b["sensitivity"],
            "specificity": b["specificity"], "four_class_kappa": m["four_class"]["kappa"],
            "n_unparseable": m["n_unparseable"], "n_failed": m["n_failed"],
            "thresholds_per_fold": chosen, "out_of_fold": chosen is not None}


def pairwise_agreement(client: JudgeClient, items: dict[str, EvalItem], rows: list[dict]) -> dict[str, Any]:
    rubric = [PairwiseLabel.model_validate(r) for r in rows]
    records = pw.judge_pairs(client, [(items[str(r.id)], r.answer_a, r.answer_b) for r in rubric], desc="holistic pairwise")
    chosen = None
    if client.cfg.uses_logprobs:
        def fit(train: list[int]) -> float:
            sub = [rubric[i] for i in train]
            return cal.fit_threshold(lambda t: cal.pairwise_metrics(sub, pw.rethreshold([records[i] for i in train], t))["kappa"],
                                     cal.TIE_BAND_GRID, prefer=0.0)
        records, chosen = out_of_fold(records, fit, pw.rethreshold, seed=1)
    m = cal.pairwise_metrics(rubric, records)
    to_ab = {"x": "A", "y": "B", "tie": "tie"}
    clear = [(r.label, to_ab.get(rec["winner"])) for r, rec in zip(rubric, records, strict=True) if r.label != "tie"]
    scored = [(r, to_ab[rec["winner"]]) for r, rec in zip(rows, records, strict=True) if rec["winner"] in to_ab]
    return {"n": m["n_scored"], "kappa": m["kappa"], "accuracy": m["accuracy"], "clear_winner_pairs": len(clear),
            "by_pair_kind": by_pair_kind([r for r, _ in scored], [r["label"] for r, _ in scored], [v for _, v in scored]),
            "clear_winner_agreement": sum(t == p for t, p in clear) / len(clear) if clear else None,
            "position_consistency": m["position_consistency"], "first_position_rate": m["first_position_rate"],
            "n_unparseable": m["n_unparseable"], "n_failed": m["n_failed"],
            "margins_per_fold": chosen, "out_of_fold": chosen is not None}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--judge", default=SMALL_HOLISTIC_JUDGE, help="judge config name or path (a holistic judge)")
    p.add_argument("--judge-base-url", help="use a running OpenAI-compatible endpoint instead of launching one")
    p.add_argument("--rubric-dir", type=Path, default=RUBRIC)
    p.add_argument("--split", choices=["dev", "test", "all"], default="test", help="label rows of these eval items")
    p.add_argument("--limit", type=int, help="first N labelled answers and pairs only (a smoke run)")
    p.add_argument("--out", type=Path, help="default: results/judgments/holistic-calibration-<judge>-<split>.json")
    args = p.parse_args(argv)
    cfg = load_config(args.judge, base_url=args.judge_base_url)
    if cfg.judge_mode != "holistic":
        p.error(f"{cfg.name} is a {cfg.judge_mode} judge: use judge/checklist_calibrate.py")
    items = load_eval_items(DATA_DIR / "eval.jsonl")
    h_rows, p_rows, _ = load_labels(args.rubric_dir, args.split, args.limit)
    t0 = time.time()
    with judge_endpoint(cfg) as lazy:
        client = JudgeClient(cfg, cache_path=RESULTS_DIR / "judgments" / "cache" / f"{cfg.name}.jsonl", endpoint=lazy)
        hallu = hallucination_agreement(client, items, h_rows)
        pair = pairwise_agreement(client, items, p_rows) if p_rows else None
    stats = client.stats
    result = {"judge": cfg.name, "model": cfg.model, "judge_mode": "holistic", "verdict_mode": cfg.verdict_mode,
              "split": args.split, "dtype": launch_dtype(cfg.launch.dtype) if cfg.launch and not cfg.base_url else None,
              "command": "python judge/holistic_calibrate.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "checklist": None, "hallucination": hallu, "pairwise": pair,
              "calls": stats.calls, "cache_hits": stats.cache_hits, "failures": stats.failures,
              "wall_s": round(time.time() - t0, 1),
              "s_per_call": round(stats.mean_request_s, 3) if stats.mean_request_s is not None else None,
              "recorded_request_s": round(stats.recorded_request_s, 1),
              "hardware": hardware(), "labels": "judge/rubric/v2 (AI annotators; see judge/rubric/v2/agreement.json)"}
    out = args.out or RESULTS_DIR / "judgments" / f"holistic-calibration-{cfg.name}-{args.split}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("hallucination", "pairwise", "calls", "wall_s")}, indent=2))
    print(f"written to {out}")
    return 1 if stats.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
