"""Judge statistics against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from supportbot.judge import metrics as stats


def test_kappa_textbook_2x2():
    # Wikipedia "Cohen's kappa" example: 50 proposals, yes/yes 20, yes/no 5, no/yes 10, no/no 15
    # po = 35/50 = 0.7, pe = 0.5*0.6 + 0.5*0.4 = 0.5, kappa = (0.7 - 0.5) / 0.5 = 0.4
    truth = ["y"] * 25 + ["n"] * 25
    pred = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert stats.cohen_kappa(truth, pred, ["y", "n"]) == pytest.approx(0.4)
    assert stats.confusion_matrix(truth, pred, ["y", "n"]).tolist() == [[20, 5], [10, 15]]


def test_kappa_3x3_hand_computed_and_degenerate():
    m = np.array([[10, 2, 0], [3, 8, 1], [0, 2, 4]])  # n = 30, po = 22/30
    rows, cols = m.sum(1), m.sum(0)  # (12, 12, 6), (13, 12, 5)
    pe = (12 * 13 + 12 * 12 + 6 * 5) / 900
    assert stats.cohen_kappa_from_matrix(m) == pytest.approx((22 / 30 - pe) / (1 - pe))
    assert rows.tolist() == [12, 12, 6] and cols.tolist() == [13, 12, 5]
    assert stats.cohen_kappa(["a"] * 4, ["a"] * 4, ["a", "b"]) is None  # chance agreement 1: undefined


def test_macro_f1_and_sens_spec():
    truth = ["A", "A", "B", "B", "tie"]
    pred = ["A", "B", "B", "B", "A"]
    # F1(A) = 2*1/(2*1+1+1) = 0.5, F1(B) = 2*2/(2*2+1+0) = 0.8, F1(tie) = 0
    assert stats.macro_f1(truth, pred, ["A", "B", "tie"]) == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    ss = stats.sensitivity_specificity([1, 1, 1, 0, 0], [1, 1, 0, 0, 1])
    assert ss["sensitivity"] == pytest.approx(2 / 3) and ss["specificity"] == pytest.approx(0.5)


def test_bootstrap_ci_covers_known_mean_with_expected_width():
    values = [1.0] * 30 + [0.0] * 70  # mean exactly 0.3; normal-approx half-width 1.96*sqrt(.21/100) = 0.0898
    res = stats.bootstrap_ci(values, seed=1, n_resamples=4000)
    assert res["estimate"] == pytest.approx(0.3)
    assert res["ci_low"] < 0.3 < res["ci_high"]
    assert 0.14 < res["ci_high"] - res["ci_low"] < 0.22
    assert stats.bootstrap_ci(values, seed=1, n_resamples=4000) == res  # seeded: reproducible


def test_paired_bootstrap_difference():
    a = [1] * 10 + [0] * 10
    b = [0] * 20
    res = stats.paired_bootstrap_diff(a, b, seed=0)
    assert res["estimate"] == pytest.approx(0.5)
    assert 0.2 < res["ci_low"] < 0.5 < res["ci_high"] < 0.8
    masked = stats.paired_bootstrap_diff(a, b, mask_a=[True] * 10 + [False] * 10, seed=0)
    assert masked["estimate"] == pytest.approx(1.0)  # among masked rows a is all 1


def test_rogan_gladen_known_case():
    # p_obs 0.3, Se 0.8, Sp 0.9: (0.3 + 0.9 - 1) / (0.8 + 0.9 - 1) = 0.2 / 0.7
    assert stats.rogan_gladen(0.3, 0.8, 0.9) == pytest.approx(0.2 / 0.7)
    assert stats.rogan_gladen(0.05, 0.8, 0.9) == 0.0  # clipped
    assert stats.rogan_gladen(0.3, 0.5, 0.5) is None  # judge no better than chance


def test_rogan_gladen_ci_brackets_the_estimate():
    truth = [True] * 10 + [False] * 20
    pred = [True] * 8 + [False] * 2 + [False] * 18 + [True] * 2  # Se 0.8, Sp 0.9
    observed = [True] * 30 + [False] * 70
    res = stats.rogan_gladen_ci(observed, truth, pred, seed=0)
    assert res["sensitivity"] == pytest.approx(0.8) and res["specificity"] == pytest.approx(0.9)
    assert res["estimate"] == pytest.approx(0.2 / 0.7)
    assert res["ci_low"] < res["estimate"] < res["ci_high"]


def test_length_controlled_win_rate_recovers_known_answer():
    # Truth: P(win) = sigmoid(0 + 2*tanh(d/s)); the candidate writes longer answers (d > 0 on average),
    # so its raw win rate is well above 0.5 while its length-controlled win rate is sigmoid(0) = 0.5.
    rng = np.random.default_rng(0)
    d = rng.normal(40, 50, size=4000)
    x = np.tanh(d / d.std())
    y = (rng.random(4000) < 1 / (1 + np.exp(-(2.0 * x)))).astype(float)
    raw = y.mean()
    lc = stats.lc_win_rate(y, d)
    assert raw > 0.65
    assert lc == pytest.approx(0.5, abs=0.04)
    fit = stats.fit_length_logistic(y, d)
    assert fit["slope"] == pytest.approx(2.0, abs=0.25)


def test_length_controlled_equals_raw_without_length_effect():
    rng = np.random.default_rng(3)
    d = rng.normal(0, 30, size=3000)
    y = (rng.random(3000) < 0.7).astype(float)
    assert stats.lc_win_rate(y, d) == pytest.approx(y.mean(), abs=0.03)
    res = stats.lc_win_rate_ci(y[:200], d[:200], n_resamples=2000, seed=0)
    assert res["ci_low"] < res["estimate"] < res["ci_high"]
