"""Fitting the reference check's thresholds on the rubric set: grid search for balanced accuracy, k-fold CV."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from supportbot.judge.reference.agreement import agreement
from supportbot.judge.reference.config import Config, Thresholds
from supportbot.judge.reference.embeddings import Embedder
from supportbot.judge.reference.inputs import Answer, EvalRef
from supportbot.judge.reference.scoring import Similarities, decide, similarities

GRID_FACT = tuple(round(float(x), 3) for x in np.arange(0.30, 0.901, 0.05))
GRID_FORBIDDEN = tuple(round(float(x), 3) for x in np.arange(0.30, 0.951, 0.025))
GRID_MARGIN = (-1.0, -0.1, -0.05, 0.0, 0.05, 0.1, 0.15, 0.2)
GRID_RECALL = (0.0, 0.2, 0.34, 0.5, 0.67, 0.8, 1.0)


def _flag_tensor(sims: list[Similarities]) -> np.ndarray:
    """flagged[row, fact, forbidden, margin, recall] for every grid point (vectorised)."""
    gf, gb, gm, gr = (np.asarray(g) for g in (GRID_FACT, GRID_FORBIDDEN, GRID_MARGIN, GRID_RECALL))
    out = np.zeros((len(sims), len(gf), len(gb), len(gm), len(gr)), bool)
    for i, s in enumerate(sims):
        pairs = s.forbidden_pairs.reshape(-1, 2)
        hit = ((pairs[:, 0, None, None] >= gb[None, :, None]) & (pairs[:, 1, None, None] >= gm[None, None, :])).any(0) \
            if len(pairs) else np.zeros((len(gb), len(gm)), bool)
        if len(s.fact_sims):
            recall = (s.fact_sims[None, :] >= gf[:, None]).mean(axis=1)
            low = (gr[None, :] > 0) & (recall[:, None] < gr[None, :])
        else:
            low = np.zeros((len(gf), len(gr)), bool)
        out[i] = hit[None, :, :, None] | low[:, None, None, :]
    return out


def _balanced_accuracy(flags: np.ndarray, truth: np.ndarray) -> np.ndarray:
    pos, neg = truth.sum(), (~truth).sum()
    sens = flags[truth].sum(axis=0) / max(pos, 1)
    spec = (~flags[~truth]).sum(axis=0) / max(neg, 1)
    return (sens + spec) / 2


def best_thresholds(flags: np.ndarray, truth: np.ndarray) -> Thresholds:
    """Grid point with the highest balanced accuracy; ties go to the first in grid order."""
    bal = _balanced_accuracy(flags, truth)
    f, b, m, r = np.unravel_index(int(np.argmax(bal)), bal.shape)
    return Thresholds(GRID_FACT[f], GRID_FORBIDDEN[b], GRID_RECALL[r], GRID_MARGIN[m])


def cross_validated(sims: list[Similarities], truth: np.ndarray, folds: int, seed: int) -> dict[str, Any]:
    """k-fold CV: fit on k-1 folds, predict the held-out fold; agreement of the pooled predictions."""
    flags = _flag_tensor(sims)
    order = np.random.default_rng(seed).permutation(len(sims))
    pred = np.zeros(len(sims), bool)
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(np.arange(len(sims)), test)
        th = best_thresholds(flags[train], truth[train])
        for i in test:
            pred[i] = decide(sims[i], th)["flagged"]
    return agreement(pred.tolist(), truth.tolist())


def fit(rubric: list[Answer], refs: dict[str, EvalRef], emb: Embedder, cfg: Config, folds: int = 5) -> dict[str, Any]:
    """Best thresholds on the attempted rubric rows, with in-sample, cross-validated and previous agreement."""
    attempted = [a for a in rubric if a.label != "not_attempted"]
    truth = np.array([int(a.label) >= 1 for a in attempted])
    if len(set(truth.tolist())) < 2:
        raise SystemExit(f"error: the rubric needs attempted answers both with and without hallucination to fit "
                         f"thresholds (got {int(truth.sum())} hallucinated of {len(truth)} attempted)")
    sims = [similarities(emb, a.answer, refs[a.id]) for a in attempted]
    flags = _flag_tensor(sims)
    th = best_thresholds(flags, truth)
    pred = lambda t: [decide(s, t)["flagged"] for s in sims]  # noqa: E731
    folds = min(folds, len(attempted))
    return {
        "rubric_rows": len(rubric), "not_attempted_excluded": len(rubric) - len(attempted),
        "hallucinated": int(truth.sum()), "grid_points": int(flags[0].size),
        "fitted": asdict(th),
        "agreement_in_sample": agreement(pred(th), truth.tolist()),
        "agreement_cross_validated": {"folds": folds, **cross_validated(sims, truth, folds, cfg.seed)},
        "agreement_previous_thresholds": {"thresholds": asdict(cfg.thresholds), **agreement(pred(cfg.thresholds), truth.tolist())},
    }
