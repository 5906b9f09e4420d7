"""Thresholds and settings of the judge-free reference check (``judge/configs/reference_check.yaml``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from supportbot.paths import JUDGE_CONFIGS_DIR

CONFIG_PATH = JUDGE_CONFIGS_DIR / "reference_check.yaml"


class ReferenceCheckError(ValueError):
    """Bad input; the message names the file, line and field."""


@dataclass(frozen=True)
class Thresholds:
    fact_threshold: float = 0.60
    forbidden_threshold: float = 0.60
    min_recall: float = 0.0  # 0 disables flagging by low recall
    forbidden_margin: float = 0.0  # how much closer to the forbidden claim than to any correct statement


@dataclass
class Config:
    thresholds: Thresholds = field(default_factory=Thresholds)
    bootstrap_resamples: int = 2000
    seed: int = 0
    fitted: dict[str, Any] | None = None  # provenance of fitted thresholds


def load_config(path: Path = CONFIG_PATH) -> Config:
    """Read the YAML config; a missing file gives the documented defaults."""
    import yaml

    if not path.is_file():
        return Config()
    raw = yaml.safe_load(path.read_text()) or {}
    names = ("fact_threshold", "forbidden_threshold", "min_recall", "forbidden_margin")
    known = {*names, "bootstrap_resamples", "seed", "fitted"}
    unknown = set(raw) - known
    if unknown:
        raise ReferenceCheckError(f"{path}: unknown keys {sorted(unknown)} (known: {sorted(known)})")
    th = {k: float(raw[k]) for k in names if k in raw}
    for key, value in th.items():
        if not -1.0 <= value <= 1.0:
            raise ReferenceCheckError(f"{path}: field '{key}' must be within [-1, 1], got {value}")
    return Config(thresholds=Thresholds(**th), bootstrap_resamples=int(raw.get("bootstrap_resamples", 2000)),
                  seed=int(raw.get("seed", 0)), fitted=raw.get("fitted"))


def save_config(cfg: Config, path: Path = CONFIG_PATH) -> None:
    """Write ``cfg`` as YAML under a header comment (what ``fit`` saves)."""
    import yaml

    body = {**asdict(cfg.thresholds), "bootstrap_resamples": cfg.bootstrap_resamples, "seed": cfg.seed}
    if cfg.fitted:
        body["fitted"] = cfg.fitted
    header = ("# Judge-free reference check (src/supportbot/judge/reference/check.py). Thresholds are cosine similarities of\n"
              "# all-MiniLM-L6-v2 embeddings; `python judge/run.py reference fit` rewrites them from the rubric set.\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump(body, sort_keys=False))
