"""Judge-related sections of the report (filled in from judge/run.py's output files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

JUDGE_SECTIONS: dict[str, tuple[str, Any]] = {}
JUDGE_TABLES: dict[str, Any] = {}


def judge_plots(summary: dict[str, Any], plots: Path) -> None:
    """Plots for the judge sections present in ``summary``."""
