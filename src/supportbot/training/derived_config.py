"""Write a variant of an Axolotl YAML (other data files, output folder, step budget) for tests and benchmarks.

The YAML stays the single source of truth: a variant starts from it and changes only named keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def write_derived_config(
    source: str | Path,
    dest: str | Path,
    *,
    train_path: str | Path | None = None,
    dev_path: str | Path | None = None,
    drop: tuple[str, ...] = (),
    **overrides: Any,
) -> Path:
    """Copy ``source`` to ``dest`` with new dataset paths, keys removed (``drop``) and ``overrides`` set."""
    cfg = yaml.safe_load(Path(source).read_text())
    if train_path is not None:
        cfg["datasets"][0]["path"] = str(train_path)
    if dev_path is not None:
        cfg["test_datasets"][0]["path"] = str(dev_path)
    for key in drop:
        cfg.pop(key, None)
    cfg.update(overrides)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return dest
