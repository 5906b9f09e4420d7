#!/usr/bin/env python
"""Agreement of the checklist judge with label set v2 (calibration values out-of-fold, calibration/fit.py).

Grades every labelled answer of ``data/labels/hallucination_v2.jsonl`` and both answers of every pair in
``data/labels/pairwise_v2.jsonl`` with the checklist judge (graders/checks.py; cached), then reports
- check level: ROC AUC of p(yes) against the labels of ``data/labels/checks.jsonl`` (stated,
  contradicted, asserted), pooled and per kind;
- answer level: AUC of the risk score against hallucinated (label 1/2), and Cohen's kappa and
  accuracy of ``risk > 0.5`` with the risk model fitted on the other folds (5-fold, seeded);
- pairwise: kappa and accuracy of the score-difference verdict with the tie margin chosen on the other
  folds, and agreement on the pairs whose label has a clear winner.
Run it alone with ``judge/run.py agreement --judge <checklist judge>``; ``calibrate``/``all`` run it too.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from supportbot.jsonl import read_jsonl
from supportbot.judge.calibration.fit import FOLDS, best_on_grid, out_of_fold
from supportbot.judge.endpoint.client import JudgeClient
from supportbot.judge.graders import checks as checklist
from supportbot.judge.metrics import cohen_kappa, sensitivity_specificity
from supportbot.judge.splits import Split, in_split
from supportbot.paths import LABELS_DIR, PROMPTS_DIR
from supportbot.records import EvalItem

RUBRIC = LABELS_DIR


def auc(truth: list[bool], score: list[float]) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(truth, score)) if len(set(truth)) == 2 else None


RISK_CUT = 0.5  # hallucinated when the learned P(hallucinated) > 0.5
MARGINS = np.linspace(0.0, 0.5, 26)  # pair tie when |score difference| <= m


def fit_margin(diff: np.ndarray, truth: list[str], grid: np.ndarray, rows: list[int] | None = None) -> float:
    """The grid tie margin with the best kappa on ``rows`` (default all)."""
    rows = list(range(len(diff))) if rows is None else rows
    return best_on_grid(grid, lambda m: cohen_kappa([truth[i] for i in rows],
                                                    [checklist.pair_verdict(diff[i], 0.0, m) for i in rows], ["A", "B", "tie"]))


def cv_margin(diff: np.ndarray, truth: list[str], grid: np.ndarray) -> tuple[list[str], list[float]]:
    """Out-of-fold pair verdicts: each fold's tie margin maximises kappa on the other folds."""
    return out_of_fold(len(diff), lambda rows: fit_margin(diff, truth, grid, rows),
                       lambda held, m: [checklist.pair_verdict(diff[i], 0.0, m) for i in held], seed=1)


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
    """Out-of-fold P(hallucinated): each fold scored by a :class:`~checks.RiskModel` fitted on the others."""
    prob, _ = out_of_fold(len(x), lambda rows: checklist.RiskModel.fit([x[i] for i in rows], [truth[i] for i in rows]),
                          lambda held, model: [model.predict(x[i]) for i in held], seed=0)
    return np.asarray(prob, float)


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
