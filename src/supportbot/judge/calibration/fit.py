"""The one fitter of calibration values: a grid search, and k-fold out-of-fold predictions with it.

Every judge kind fits its values (a logprob threshold, a tie band, a tie margin, a risk model) through
:func:`out_of_fold`, so agreement is measured on rows the value was not chosen on; the value a main run
applies is fitted once more on every row (``fit(all rows)``), never scored on them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

FOLDS = 5
T = TypeVar("T")


def folds(n: int, k: int = FOLDS, seed: int = 0) -> np.ndarray:
    """A seeded fold number (0..k-1) per row."""
    return np.random.default_rng(seed).permutation(n) % k


def best_on_grid(grid: Sequence[float], score: Callable[[float], float | None], prefer: float | None = None) -> float:
    """The grid value with the best score (an undefined score is the worst); ties go to the value closest to
    ``prefer``, else to the first in grid order."""
    scores = {float(t): score(float(t)) for t in grid}

    def key(t: float) -> tuple[float, float]:
        s = scores[t]
        return (-np.inf if s is None else s, 0.0 if prefer is None else -abs(t - prefer))

    return max(scores, key=key)


def out_of_fold(n: int, fit: Callable[[list[int]], T], predict: Callable[[list[int], T], Sequence[Any]], *,
                seed: int, k: int = FOLDS) -> tuple[list[Any], list[T]]:
    """Predictions for rows 0..n-1, each fold's from ``fit`` on the other folds; and the value fitted per fold."""
    f = folds(n, k, seed)
    pred: list[Any] = [None] * n
    chosen = []
    for fold in range(k):
        value = fit([i for i in range(n) if f[i] != fold])
        chosen.append(value)
        held = [i for i in range(n) if f[i] == fold]
        for i, p in zip(held, predict(held, value), strict=True):
            pred[i] = p
    return pred, chosen
