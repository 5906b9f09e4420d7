"""Bootstrap confidence intervals over eval items (seeded, so a rerun gives the same numbers).

Shared by the judge statistics (``src/supportbot/judge/metrics.py``) and the judge-free behaviour metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

DEFAULT_RESAMPLES = 2000


def _ci(samples: np.ndarray, level: float) -> tuple[float, float]:
    lo, hi = np.nanpercentile(samples, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(lo), float(hi)


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    stat: Callable[[np.ndarray], float] = np.mean,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """Percentile bootstrap of ``stat`` over the rows of ``values`` (items resampled with replacement)."""
    arr = np.asarray(values, dtype=float)
    if len(arr) == 0:
        return {"estimate": None, "ci_low": None, "ci_high": None, "n": 0, "n_resamples": n_resamples}
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(arr), size=(n_resamples, len(arr)))
    samples = np.array([stat(arr[i]) for i in idx])
    lo, hi = _ci(samples, level)
    return {"estimate": float(stat(arr)), "ci_low": lo, "ci_high": hi, "n": int(len(arr)),
            "n_resamples": n_resamples, "level": level, "seed": seed}


def paired_bootstrap_diff(
    a: Sequence[float], b: Sequence[float], *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
    level: float = 0.95, mask_a: Sequence[bool] | None = None, mask_b: Sequence[bool] | None = None,
) -> dict[str, Any]:
    """CI of mean(a) − mean(b) over paired items (the same item index resampled for both).

    With masks, each mean is taken over the masked rows only (e.g. attempted answers), a ratio
    estimator recomputed on every resample.
    """
    a_arr, b_arr = np.asarray(a, float), np.asarray(b, float)
    if a_arr.shape != b_arr.shape:
        raise ValueError("paired bootstrap needs equally long a and b")
    n = len(a_arr)
    if n == 0:
        return {"estimate": None, "ci_low": None, "ci_high": None, "n": 0, "n_resamples": n_resamples}
    ma = np.ones(n, bool) if mask_a is None else np.asarray(mask_a, bool)
    mb = np.ones(n, bool) if mask_b is None else np.asarray(mask_b, bool)

    def diff(ix: np.ndarray) -> float:
        sa, sb = ma[ix], mb[ix]
        if not sa.any() or not sb.any():
            return float("nan")
        return float(a_arr[ix][sa].mean() - b_arr[ix][sb].mean())

    rng = np.random.default_rng(seed)
    samples = np.array([diff(rng.integers(0, n, n)) for _ in range(n_resamples)])
    lo, hi = _ci(samples, level)
    return {"estimate": diff(np.arange(n)), "ci_low": lo, "ci_high": hi, "n": n,
            "n_resamples": n_resamples, "level": level, "seed": seed}
