"""Metrics over judge records: bootstrap CIs, agreement (kappa, F1), Rogan–Gladen corrected rates, length-controlled
win rate.

Every function is pure (numpy/scipy) and seeded where it resamples, so a rerun gives the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import minimize

from supportbot.stats import DEFAULT_RESAMPLES, _ci, bootstrap_ci, paired_bootstrap_diff  # noqa: F401 - re-exported


# ------------------------------------------------------------------ agreement
def confusion_matrix(truth: Sequence[Any], pred: Sequence[Any], labels: Sequence[Any]) -> np.ndarray:
    """Rows: truth (human), columns: prediction (judge), in the order of ``labels``."""
    pos = {lab: i for i, lab in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), dtype=int)
    for t, p in zip(truth, pred, strict=True):
        m[pos[t], pos[p]] += 1
    return m


def cohen_kappa_from_matrix(m: np.ndarray) -> float | None:
    """Cohen's kappa from a square confusion matrix; None when undefined (chance agreement 1)."""
    m = np.asarray(m, float)
    n = m.sum()
    if n == 0:
        return None
    po = np.trace(m) / n
    pe = float((m.sum(0) * m.sum(1)).sum() / n**2)
    if pe >= 1.0:
        return None
    return float((po - pe) / (1 - pe))


def cohen_kappa(truth: Sequence[Any], pred: Sequence[Any], labels: Sequence[Any]) -> float | None:
    return cohen_kappa_from_matrix(confusion_matrix(truth, pred, labels))


def macro_f1(truth: Sequence[Any], pred: Sequence[Any], labels: Sequence[Any]) -> float | None:
    """Unweighted mean F1 over the labels present in truth or prediction."""
    m = confusion_matrix(truth, pred, labels)
    f1s = []
    for i in range(len(labels)):
        tp, fp, fn = m[i, i], m[:, i].sum() - m[i, i], m[i, :].sum() - m[i, i]
        if tp + fp + fn == 0:
            continue
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s)) if f1s else None


def sensitivity_specificity(truth: Sequence[bool], pred: Sequence[bool]) -> dict[str, float | int | None]:
    t, p = np.asarray(truth, bool), np.asarray(pred, bool)
    tp, fn = int((t & p).sum()), int((t & ~p).sum())
    tn, fp = int((~t & ~p).sum()), int((~t & p).sum())
    return {"sensitivity": tp / (tp + fn) if tp + fn else None,
            "specificity": tn / (tn + fp) if tn + fp else None,
            "tp": tp, "fn": fn, "tn": tn, "fp": fp}


# ------------------------------------------------------------------ Rogan–Gladen
def rogan_gladen(p_obs: float, se: float, sp: float) -> float | None:
    """True prevalence from an apparent one: (p + Sp − 1) / (Se + Sp − 1), clipped to [0, 1].

    None when Se + Sp ≤ 1 (the judge is no better than chance: nothing can be corrected).
    """
    j = se + sp - 1
    if j <= 0:
        return None
    return float(min(1.0, max(0.0, (p_obs + sp - 1) / j)))


def rogan_gladen_ci(
    observed: Sequence[bool], rubric_truth: Sequence[bool], rubric_pred: Sequence[bool], *,
    n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0, level: float = 0.95,
) -> dict[str, Any]:
    """Corrected prevalence with a bootstrap CI that resamples both the judged answers and the rubric set.

    ``observed``: the judge's binary verdicts on the answers being measured; ``rubric_truth`` and
    ``rubric_pred``: human labels and judge verdicts on the rubric set (which give Se and Sp).
    """
    obs = np.asarray(observed, bool)
    rt, rp = np.asarray(rubric_truth, bool), np.asarray(rubric_pred, bool)
    out: dict[str, Any] = {"observed": float(obs.mean()) if len(obs) else None, "n": int(len(obs)),
                           "n_rubric": int(len(rt)), "n_resamples": n_resamples, "seed": seed}
    ss = sensitivity_specificity(rt, rp)
    out.update(sensitivity=ss["sensitivity"], specificity=ss["specificity"])
    if len(obs) == 0 or ss["sensitivity"] is None or ss["specificity"] is None:
        out.update(estimate=None, ci_low=None, ci_high=None, note="Se or Sp undefined on the rubric set")
        return out
    est = rogan_gladen(out["observed"], ss["sensitivity"], ss["specificity"])
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n_resamples):
        o = obs[rng.integers(0, len(obs), len(obs))].mean()
        ix = rng.integers(0, len(rt), len(rt))
        s = sensitivity_specificity(rt[ix], rp[ix])
        if s["sensitivity"] is None or s["specificity"] is None:
            continue
        v = rogan_gladen(o, s["sensitivity"], s["specificity"])
        if v is not None:
            samples.append(v)
    if est is None or not samples:
        out.update(estimate=None, ci_low=None, ci_high=None, note="Se + Sp <= 1: the judge is no better than chance")
        return out
    lo, hi = _ci(np.array(samples), level)
    out.update(estimate=est, ci_low=lo, ci_high=hi, valid_resamples=len(samples))
    return out


def corrected_rates(observed: dict[str, Sequence[bool]], labelled: dict[str, Any] | None, *, seed: int,
                    resamples: int) -> dict[str, Any]:
    """Rogan–Gladen-corrected hallucination rate per model: ``observed`` the judge's binary verdicts on each
    model's answers, ``labelled`` a calibration's hallucination section (``truth_binary``/``judge_binary``
    on the labelled rows, which give Se and Sp); the one place the correction is made."""
    if not labelled:
        return {name: {"estimate": None, "note": "no hallucination rubric set: no correction possible"} for name in observed}
    return {name: rogan_gladen_ci(obs, labelled["truth_binary"], labelled["judge_binary"], seed=seed, n_resamples=resamples)
            for name, obs in observed.items()}


# ------------------------------------------------------------------ length-controlled win rate
def _sigmoid(x: np.ndarray | float) -> np.ndarray | float:
    return 1.0 / (1.0 + np.exp(-x))


def fit_length_logistic(outcome: Sequence[float], length_diff: Sequence[float]) -> dict[str, float]:
    """Fit P(win) = σ(a + b·tanh(Δ/s)) by maximum likelihood, with soft outcomes (tie = 0.5).

    ``Δ`` is the candidate's length minus the baseline's and ``s`` its standard deviation, as in
    AlpacaEval's length-controlled GLM (without its per-instruction term). A tiny L2 penalty keeps
    the fit finite when outcomes are all 0 or all 1.
    """
    y = np.asarray(outcome, float)
    d = np.asarray(length_diff, float)
    s = float(d.std()) or 1.0
    x = np.tanh(d / s)

    def nll(w: np.ndarray) -> float:
        z = w[0] + w[1] * x
        return float(np.sum(np.logaddexp(0, z) - y * z) + 1e-3 * (w @ w))

    def grad(w: np.ndarray) -> np.ndarray:
        r = _sigmoid(w[0] + w[1] * x) - y
        return np.array([r.sum(), (r * x).sum()]) + 2e-3 * w

    res = minimize(nll, np.zeros(2), jac=grad, method="BFGS")
    return {"intercept": float(res.x[0]), "slope": float(res.x[1]), "scale": s}


def lc_win_rate(outcome: Sequence[float], length_diff: Sequence[float]) -> float:
    """Win rate predicted at zero length difference: σ(a)."""
    return float(_sigmoid(fit_length_logistic(outcome, length_diff)["intercept"]))


def lc_win_rate_ci(
    outcome: Sequence[float], length_diff: Sequence[float], *, n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0, level: float = 0.95,
) -> dict[str, Any]:
    rows = np.column_stack([np.asarray(outcome, float), np.asarray(length_diff, float)])
    res = bootstrap_ci(rows, lambda r: lc_win_rate(r[:, 0], r[:, 1]), n_resamples=n_resamples, seed=seed, level=level)
    if len(rows):
        res["fit"] = fit_length_logistic(rows[:, 0], rows[:, 1])
    return res
