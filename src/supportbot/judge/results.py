"""Writing result files and warnings: standard JSON (NaN -> null), atomic writes, loud banners."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any


def warn(msg: str) -> None:
    print(f"WARNING: {msg}", file=sys.stderr, flush=True)


def loud_warning(lines: list[str]) -> None:
    bar = "!" * 78
    print("\n".join([bar, *[f"!!! {x}" for x in lines], bar]), file=sys.stderr, flush=True)


def finite(x: Any) -> Any:
    """``x`` with NaN/inf floats (e.g. a rate over zero answers) replaced by None, so the JSON is standard."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [finite(v) for v in x]
    return x


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(finite(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    tmp.replace(path)
