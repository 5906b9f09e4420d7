"""Helpers shared by the report's sections: reading a result file, formatting numbers (one helper per format)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def load_json(path: Path) -> dict[str, Any] | None:
    """JSON content of ``path`` or None when it does not exist."""
    return json.loads(path.read_text()) if path.is_file() else None


def num(x: float | None, fmt: str = ".2f") -> str:
    """``x`` in ``fmt``, or 'n/a' when it is missing."""
    return "n/a" if x is None else format(x, fmt)


def pct(x: float | None) -> str:
    """'41.0 %' from a fraction, or 'n/a'."""
    return "n/a" if x is None else f"{100 * x:.1f} %"


def pct_ci(ci: dict[str, Any] | None) -> str:
    """'41.0 % [32.0, 50.0]' from a bootstrap dict (estimate, ci_low, ci_high), or 'n/a'."""
    if not ci or ci.get("estimate") is None:
        return "n/a"
    out = f"{100 * ci['estimate']:.1f} %"
    if ci.get("ci_low") is not None and ci.get("ci_high") is not None:
        out += f" [{100 * ci['ci_low']:.1f}, {100 * ci['ci_high']:.1f}]"
    return out
