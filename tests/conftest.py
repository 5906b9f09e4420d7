"""Shared test fixtures: repository paths, the bootstrapped base model, the safe environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT / "src", ROOT):  # `supportbot` package and the top-level `judge`/`eval` folders
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from supportbot.paths import DEFAULT_BASE_MODEL_DIR  # noqa: E402
from supportbot.runtime_env import apply_safe_env  # noqa: E402

apply_safe_env()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def base_model_dir() -> Path:
    """The default base model folder; a missing folder is a setup error, never a skip."""
    if not (DEFAULT_BASE_MODEL_DIR / "model.safetensors").is_file():
        pytest.fail(f"{DEFAULT_BASE_MODEL_DIR} is missing: run `python scripts/bootstrap_model.py` (scripts/setup.sh does)")
    return DEFAULT_BASE_MODEL_DIR
