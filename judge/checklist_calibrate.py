#!/usr/bin/env python
"""Calibrate the checklist judge on label set v2 with cross-validated thresholds (out-of-fold agreement only).

    python judge/checklist_calibrate.py --judge local-qwen0.5b-checklist          # -> results/judgments/checklist-calibration-<judge>.json
    python judge/checklist_calibrate.py --judge local-qwen0.5b-checklist --limit 20

Grades every labelled answer of ``judge/rubric/hallucination_v2.jsonl`` and both answers of every
pair in ``judge/rubric/pairwise_v2.jsonl`` with the checklist judge (judge/checklist.py; cached),
then reports
- check level: ROC AUC of p(yes) against the labels of ``judge/rubric/checks.jsonl`` (stated,
  contradicted, asserted), pooled and per kind;
- answer level: AUC of the risk score against hallucinated (label 1/2), and Cohen's kappa and
  accuracy of ``risk > threshold`` with the threshold chosen on the other folds (5-fold, seeded);
- pairwise: kappa and accuracy of the score-difference verdict with the tie margin chosen on the other
  folds, and agreement on the pairs whose label has a clear winner.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0]).resolve() == _HERE:
    sys.path.pop(0)
for _p in (_HERE.parent / "src", _HERE.parent):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import numpy as np  # noqa: E402

from judge import checklist  # noqa: E402
from judge.client import JudgeClient  # noqa: E402
from judge.config import load_config  # noqa: E402
from judge.inputs import EvalItem  # noqa: E402
from judge.launch import judge_endpoint  # noqa: E402
from judge.stats import cohen_kappa  # noqa: E402
from supportbot.jsonl import read_jsonl  # noqa: E402
from supportbot.paths import DATA_DIR, RESULTS_DIR  # noqa: E402
from supportbot.training.manifest import hardware  # noqa: E402

RUBRIC = _HERE / "rubric"
FOLDS = 5


def auc(truth: list[bool], score: list[float]) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(truth, score)) if len(set(truth)) == 2 else None


def folds(n: int, k: int = FOLDS, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n) % k


def cv_threshold(score: np.ndarray, truth: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Out-of-fold binary predictions: each fold's threshold maximises accuracy on the other folds."""
    f = folds(len(score))
    pred = np.zeros(len(score), bool)
    chosen = []
    for k in range(FOLDS):
        train = f != k
        acc = [((score[train] > t) == truth[train]).mean() for t in grid]
        t = float(grid[int(np.argmax(acc))])
        chosen.append(t)
        pred[f == k] = score[f == k] > t
    return pred, chosen


def cv_margin(diff: np.ndarray, truth: list[str], grid: np.ndarray) -> tuple[list[str], list[float]]:
    """Out-of-fold pair verdicts: each fold's tie margin maximises kappa on the other folds."""
    f = folds(len(diff), seed=1)
    pred = [""] * len(diff)
    chosen = []
    labels = ["A", "B", "tie"]
    for k in range(FOLDS):
        tr = [i for i in range(len(diff)) if f[i] != k]

        def kappa_at(m: float, tr: list[int] = tr) -> float:
            v = cohen_kappa([truth[i] for i in tr], [checklist.pair_verdict(diff[i], 0.0, m) for i in tr], labels)
            return -1.0 if v is None else v

        m = float(max(grid, key=kappa_at))
        chosen.append(m)
        for i in range(len(diff)):
            if f[i] == k:
                pred[i] = checklist.pair_verdict(diff[i], 0.0, m)
    return pred, chosen


def text_key(item_id: str, answer: str) -> str:
    return hashlib.sha256(f"{item_id}\n{answer}".encode()).hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--judge", default="local-qwen0.5b-checklist", help="judge config name or path")
    p.add_argument("--judge-base-url", help="use a running OpenAI-compatible endpoint instead of launching one")
    p.add_argument("--rubric-dir", type=Path, default=RUBRIC)
    p.add_argument("--limit", type=int, help="first N labelled answers and pairs only (a smoke run)")
    p.add_argument("--out", type=Path, help="output JSON (default: results/judgments/checklist-calibration-<judge>.json)")
    p.add_argument("--cache", type=Path, help="judge cache (default: results/judgments/cache/<judge>.jsonl)")
    args = p.parse_args(argv)
    cfg = load_config(args.judge, base_url=args.judge_base_url)
    items = {r["id"]: EvalItem(**r) for r in read_jsonl(DATA_DIR / "eval.jsonl")}
    h_labels = read_jsonl(args.rubric_dir / "hallucination_v2.jsonl")[: args.limit]
    p_labels = read_jsonl(args.rubric_dir / "pairwise_v2.jsonl")[: args.limit] if (args.rubric_dir / "pairwise_v2.jsonl").is_file() else []
    c_labels = read_jsonl(args.rubric_dir / "checks.jsonl")
    todo: dict[str, tuple[str, str]] = {}
    for r in h_labels:
        todo[text_key(r["id"], r["answer"])] = (r["id"], r["answer"])
    for r in p_labels:
        for a in (r["answer_a"], r["answer_b"]):
            todo[text_key(r["id"], a)] = (r["id"], a)
    t0 = time.time()
    with judge_endpoint(cfg) as lazy:
        client = JudgeClient(cfg, cache_path=args.cache or RESULTS_DIR / "judgments" / "cache" / f"{cfg.name}.jsonl", endpoint=lazy)
        keys = list(todo)
        grades = dict(zip(keys, client.map(lambda k: checklist.grade(client, items[todo[k][0]], todo[k][1]), keys,
                                           desc=f"checklist {cfg.name}"), strict=True))
    wall = time.time() - t0
    # check level
    by_row = {r["row"]: text_key(r["id"], r["answer"]) for r in h_labels}
    probes: dict[str, tuple[list[bool], list[float]]] = {"stated": ([], []), "contradicted": ([], []), "asserted": ([], [])}
    for c in c_labels:
        k = by_row.get(c["row"])
        if k is None:
            continue
        g = grades[k]
        if c["check"].startswith("fact:"):
            for kind in ("stated", "contradicted"):
                pid = f"{c['check']}:{kind}"
                if pid in g.p:
                    probes[kind][0].append(c["label"] == kind)
                    probes[kind][1].append(g.p[pid])
        elif c["check"] in g.p:  # forbidden:<i>
            probes["asserted"][0].append(c["label"] == "asserted")
            probes["asserted"][1].append(g.p[c["check"]])
    pooled_t = [t for v in probes.values() for t in v[0]]
    pooled_s = [s for v in probes.values() for s in v[1]]
    check_level = {"auc": auc(pooled_t, pooled_s), "n": len(pooled_t),
                   "by_kind": {k: {"auc": auc(*v), "n": len(v[0]), "positives": int(sum(v[0]))} for k, v in probes.items()}}
    # answer level
    risk = np.array([grades[text_key(r["id"], r["answer"])].risk for r in h_labels])
    truth = np.array([r["label"] in ("1", "2") for r in h_labels])
    pred, thresholds = cv_threshold(risk, truth, np.linspace(0.05, 0.95, 19))
    hallu = {"n": len(h_labels), "positives": int(truth.sum()), "auc": auc(list(truth), list(risk)),
             "kappa": cohen_kappa(list(truth), list(pred), [False, True]), "accuracy": float((pred == truth).mean()),
             "thresholds_per_fold": thresholds, "folds": FOLDS, "out_of_fold": True}
    # pairwise
    pair = None
    if p_labels:
        diff = np.array([grades[text_key(r["id"], r["answer_a"])].score - grades[text_key(r["id"], r["answer_b"])].score
                         for r in p_labels])
        plabel = [r["label"] for r in p_labels]
        ppred, margins = cv_margin(diff, plabel, np.linspace(0.0, 0.5, 26))
        clear = [i for i, lab in enumerate(plabel) if lab != "tie"]
        pair = {"n": len(p_labels), "kappa": cohen_kappa(plabel, ppred, ["A", "B", "tie"]),
                "accuracy": float(np.mean([a == b for a, b in zip(plabel, ppred, strict=True)])),
                "clear_winner_pairs": len(clear),
                "clear_winner_agreement": float(np.mean([ppred[i] == plabel[i] for i in clear])) if clear else None,
                "margins_per_fold": margins, "folds": FOLDS, "out_of_fold": True}
    stats = client.stats
    result = {"judge": cfg.name, "model": cfg.model, "command": "python judge/checklist_calibrate.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "checklist": check_level, "hallucination": hallu, "pairwise": pair,
              "answers_graded": len(grades), "calls": stats.calls, "cache_hits": stats.cache_hits, "failures": stats.failures,
              "checks_run": sum(len(g.p) for g in grades.values()), "wall_s": round(wall, 1),
              "s_per_check": round(stats.request_s / max(1, stats.calls), 3) if stats.calls else None,
              "hardware": hardware(), "labels": "judge/rubric/v2 (AI annotators; see judge/rubric/v2/agreement.json)"}
    out = args.out or RESULTS_DIR / "judgments" / f"checklist-calibration-{cfg.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("checklist", "hallucination", "pairwise", "calls", "wall_s")}, indent=2))
    print(f"written to {out}")
    return 1 if stats.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
