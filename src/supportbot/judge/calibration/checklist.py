#!/usr/bin/env python
"""Calibrate the checklist judge on label set v2 with cross-validated thresholds (out-of-fold agreement only).

    python judge/checklist_calibrate.py --judge local-qwen1.5b-checklist              # test split -> results/judgments/checklist-calibration-<judge>-test.json
    python judge/checklist_calibrate.py --judge local-qwen1.5b-checklist --split dev  # where prompts are tuned
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
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from supportbot.jsonl import read_jsonl
from supportbot.judge.endpoint.client import JudgeClient
from supportbot.judge.endpoint.config import load_config
from supportbot.judge.endpoint.launch import judge_endpoint, launch_dtype
from supportbot.judge.graders import checks as checklist
from supportbot.judge.inputs import load_eval_items
from supportbot.judge.metrics import cohen_kappa, sensitivity_specificity
from supportbot.judge.splits import Split, in_split
from supportbot.paths import DATA_DIR, LABELS_DIR, PROMPTS_DIR, RESULTS_DIR, SMALL_CHECKLIST_JUDGE
from supportbot.records import EvalItem
from supportbot.training.manifest import hardware

_HERE = Path(__file__).resolve().parent

RUBRIC = LABELS_DIR
FOLDS = 5


def auc(truth: list[bool], score: list[float]) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(truth, score)) if len(set(truth)) == 2 else None


def folds(n: int, k: int = FOLDS, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n) % k


RISK_CUT = 0.5  # hallucinated when the learned P(hallucinated) > 0.5
MARGINS = np.linspace(0.0, 0.5, 26)  # pair tie when |score difference| <= m


def _margin_kappa(diff: np.ndarray, truth: list[str], rows: list[int], m: float) -> float:
    v = cohen_kappa([truth[i] for i in rows], [checklist.pair_verdict(diff[i], 0.0, m) for i in rows], ["A", "B", "tie"])
    return -1.0 if v is None else v


def fit_margin(diff: np.ndarray, truth: list[str], grid: np.ndarray, rows: list[int] | None = None) -> float:
    """The grid tie margin with the best kappa on ``rows`` (default all)."""
    rows = list(range(len(diff))) if rows is None else rows
    return float(max(grid, key=lambda m: _margin_kappa(diff, truth, rows, float(m))))


def cv_margin(diff: np.ndarray, truth: list[str], grid: np.ndarray) -> tuple[list[str], list[float]]:
    """Out-of-fold pair verdicts: each fold's tie margin maximises kappa on the other folds."""
    f = folds(len(diff), seed=1)
    pred = [""] * len(diff)
    chosen = []
    for k in range(FOLDS):
        m = fit_margin(diff, truth, grid, [i for i in range(len(diff)) if f[i] != k])
        chosen.append(m)
        for i in range(len(diff)):
            if f[i] == k:
                pred[i] = checklist.pair_verdict(diff[i], 0.0, m)
    return pred, chosen


def text_key(item_id: str, answer: str) -> str:
    return hashlib.sha256(f"{item_id}\n{answer}".encode()).hexdigest()[:16]


def prompt_sha(cfg: object) -> str:
    """sha256 prefix of the check prompt template and question file (tells prompt variants apart)."""
    h = hashlib.sha256()
    for f in (PROMPTS_DIR / f"{cfg.prompts.check}.txt", checklist.QUESTIONS):
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def load_labels(rubric_dir: Path, split: Split, limit: int | None = None) -> tuple[list[dict], list[dict], list[dict]]:
    """(answer labels, pair labels, check labels) of label set v2 for the eval items of ``split``."""
    h = [r for r in read_jsonl(rubric_dir / "hallucination_v2.jsonl") if in_split(r["id"], split)][:limit]
    p_path = rubric_dir / "pairwise_v2.jsonl"
    p = [r for r in read_jsonl(p_path) if in_split(r["id"], split)][:limit] if p_path.is_file() else []
    return h, p, read_jsonl(rubric_dir / "checks.jsonl")


def calibrate(client: JudgeClient, items: dict[str, EvalItem], rubric_dir: Path = RUBRIC, split: Split = "test",
              limit: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Grade the labelled answers of ``split`` and measure agreement (thresholds and margins out-of-fold).

    Also returns the threshold and margin fitted on all rows of the split (``threshold``), which a main run
    applies to new answers; agreement is never measured with them."""
    h_labels, p_labels, c_labels = load_labels(rubric_dir, split, limit)
    todo: dict[str, tuple[str, str]] = {}
    for r in h_labels:
        todo[text_key(r["id"], r["answer"])] = (r["id"], r["answer"])
    for r in p_labels:
        for a in (r["answer_a"], r["answer_b"]):
            todo[text_key(r["id"], a)] = (r["id"], a)
    keys = list(todo)
    grades = dict(zip(keys, client.map(lambda k: checklist.grade(client, items[todo[k][0]], todo[k][1]), keys,
                                       desc=f"checklist {client.cfg.name} ({split})", progress=progress), strict=True))
    return {"split": split, "checklist": check_level(h_labels, c_labels, grades),
            "hallucination": answer_level(h_labels, grades, items), "pairwise": pair_level(p_labels, grades),
            "answers_graded": len(grades), "checks_run": sum(len(g.p) for g in grades.values()),
            "failed_checks": sum(len(g.errors) for g in grades.values())}


def check_level(h_labels: list[dict], c_labels: list[dict], grades: dict[str, checklist.AnswerGrade]) -> dict[str, Any]:
    """ROC AUC of p(yes) against the check labels, pooled and per kind (stated, contradicted, asserted)."""
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
    return {"auc": auc(pooled_t, pooled_s), "n": len(pooled_t),
            "by_kind": {k: {"auc": auc(*v), "n": len(v[0]), "positives": int(sum(v[0]))} for k, v in probes.items()}}


def oof_risk(x: list[list[float]], truth: list[bool]) -> np.ndarray:
    """Out-of-fold P(hallucinated): each fold scored by a :class:`~judge.checklist.RiskModel` fitted on the others."""
    f = folds(len(x))
    prob = np.zeros(len(x))
    for k in range(FOLDS):
        train = [i for i in range(len(x)) if f[i] != k]
        if len(train) == len(x):
            continue  # an empty fold (fewer rows than folds)
        model = checklist.RiskModel.fit([x[i] for i in train], [truth[i] for i in train])
        for i in range(len(x)):
            if f[i] == k:
                prob[i] = model.predict(x[i])
    return prob


def answer_level(h_labels: list[dict], grades: dict[str, checklist.AnswerGrade],
                 items: dict[str, EvalItem]) -> dict[str, Any]:
    """Hallucinated (label 1/2) vs the learned risk: AUC, and kappa/accuracy/Se/Sp of ``risk > 0.5``, out-of-fold.

    The risk model (logistic regression on judge.checklist.FEATURES) is fitted on the other folds; the one
    fitted on every row of the split is returned for new answers (``risk_model``)."""
    keyed = [(items[r["id"]], grades[text_key(r["id"], r["answer"])]) for r in h_labels]
    x = [checklist.features(it, g) for it, g in keyed]
    truth = [r["label"] in ("1", "2") for r in h_labels]
    prob = oof_risk(x, truth)
    pred = prob > RISK_CUT
    rule = [g.risk for _, g in keyed]
    return {"n": len(h_labels), "positives": int(sum(truth)), "auc": auc(truth, list(prob)),
            "kappa": cohen_kappa(truth, list(pred), [False, True]), "accuracy": float(np.mean(pred == np.array(truth))),
            **sensitivity_specificity(truth, list(pred)),
            "truth_binary": truth, "judge_binary": [bool(v) for v in pred],
            "rule_risk_auc": auc(truth, rule), "folds": FOLDS, "out_of_fold": True, "threshold": RISK_CUT,
            "risk_model": asdict(checklist.RiskModel.fit(x, truth)) if x else None,
            "risk_model_note": "logistic regression on the features, fitted on every row of the split, for new answers only"}


def pair_level(p_labels: list[dict], grades: dict[str, checklist.AnswerGrade]) -> dict[str, Any] | None:
    """A/B/tie from the score difference, tie margin out-of-fold: kappa, accuracy, clear-winner agreement."""
    if not p_labels:
        return None
    diff = np.array([grades[text_key(r["id"], r["answer_a"])].score - grades[text_key(r["id"], r["answer_b"])].score
                     for r in p_labels])
    plabel = [r["label"] for r in p_labels]
    ppred, margins = cv_margin(diff, plabel, MARGINS)
    clear = [i for i, lab in enumerate(plabel) if lab != "tie"]
    return {"n": len(p_labels), "kappa": cohen_kappa(plabel, ppred, ["A", "B", "tie"]),
            "accuracy": float(np.mean([a == b for a, b in zip(plabel, ppred, strict=True)])),
            "clear_winner_pairs": len(clear),
            "clear_winner_agreement": float(np.mean([ppred[i] == plabel[i] for i in clear])) if clear else None,
            "by_pair_kind": by_pair_kind(p_labels, plabel, ppred),
            "margins_per_fold": margins, "folds": FOLDS, "out_of_fold": True,
            "threshold": fit_margin(diff, plabel, MARGINS), "threshold_note": "tie margin fitted on every row of the split"}


def by_pair_kind(p_labels: list[dict], truth: list[str], pred: list[str]) -> dict[str, dict[str, Any]]:
    """Out-of-fold agreement split by what was compared: a control answer against a model answer, or two models."""
    out: dict[str, dict[str, Any]] = {}
    for r, t, v in zip(p_labels, truth, pred, strict=True):
        kind = "model_vs_model" if all(str(r.get(k, "")).startswith("model:") for k in ("source_a", "source_b")) \
            else "control_vs_model"
        d = out.setdefault(kind, {"n": 0, "agree": 0, "clear": 0, "clear_agree": 0})
        d["n"] += 1
        d["agree"] += t == v
        d["clear"] += t != "tie"
        d["clear_agree"] += t != "tie" and t == v
    for d in out.values():
        d["accuracy"] = d["agree"] / d["n"]
        d["clear_winner_agreement"] = d["clear_agree"] / d["clear"] if d["clear"] else None
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--judge", default=SMALL_CHECKLIST_JUDGE, help="judge config name or path")
    p.add_argument("--judge-base-url", help="use a running OpenAI-compatible endpoint instead of launching one")
    p.add_argument("--rubric-dir", type=Path, default=RUBRIC)
    p.add_argument("--split", choices=["dev", "test", "all"], default="test",
                   help="label rows of these eval items (judge/splits.py): tune prompts on dev, report test (default)")
    p.add_argument("--limit", type=int, help="first N labelled answers and pairs only (a smoke run)")
    p.add_argument("--out", type=Path, help="output JSON (default: results/judgments/checklist-calibration-<judge>-<split>.json)")
    p.add_argument("--cache", type=Path, help="judge cache (default: results/judgments/cache/<judge>.jsonl)")
    p.add_argument("--dtype", choices=["auto", "float32", "bfloat16"],
                   help="override the config's launch.dtype (e.g. float32 to time a CPU without native bf16; "
                        "use a separate --cache: the cache key does not include the dtype)")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    cfg = load_config(args.judge, base_url=args.judge_base_url)
    if args.dtype and not args.cache:
        p.error("--dtype needs its own --cache (the cache key does not include the dtype)")
    if args.dtype:
        cfg = cfg.with_launch(dtype=args.dtype)
    items = load_eval_items(DATA_DIR / "eval.jsonl")
    t0 = time.time()
    with judge_endpoint(cfg) as lazy:
        client = JudgeClient(cfg, cache_path=args.cache or RESULTS_DIR / "judgments" / "cache" / f"{cfg.name}.jsonl", endpoint=lazy)
        res = calibrate(client, items, args.rubric_dir, args.split, args.limit, progress=not args.no_progress)
    wall = time.time() - t0
    stats = client.stats
    result = {"judge": cfg.name, "model": cfg.model, "judge_mode": "checklist", "prompt_sha256": prompt_sha(cfg),
              "dtype": launch_dtype(cfg.launch.dtype) if cfg.launch and not cfg.base_url else None,
              "command": "python judge/checklist_calibrate.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              **res, "calls": stats.calls, "cache_hits": stats.cache_hits, "failures": stats.failures,
              "wall_s": round(wall, 1),
              # mean latency per check: this run's calls plus the latencies the cache recorded when its hits were asked
              "s_per_check": round(stats.mean_request_s, 3) if stats.mean_request_s is not None else None,
              "recorded_request_s": round(stats.recorded_request_s, 1),
              "hardware": hardware(), "labels": "judge/rubric/v2 (AI annotators; see judge/rubric/v2/agreement.json)"}
    out = args.out or RESULTS_DIR / "judgments" / f"checklist-calibration-{cfg.name}-{args.split}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    brief = {k: result[k] for k in ("checklist", "calls", "wall_s", "s_per_check")}
    brief["hallucination"] = {k: v for k, v in result["hallucination"].items() if k not in ("truth_binary", "judge_binary")}
    brief["pairwise"] = result["pairwise"]
    print(json.dumps(brief, indent=2))
    print(f"written to {out}")
    return 1 if stats.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
