"""The judge package's structure: grader kinds by registry, one fitter, one eval-item type, one answers reader."""

from __future__ import annotations

import ast
import typing
from pathlib import Path

import numpy as np
import pytest

from supportbot.judge.calibration.fit import best_on_grid, folds, out_of_fold
from supportbot.judge.endpoint.config import JudgeConfig, load_config
from supportbot.judge.graders.base import Grader
from supportbot.judge.graders.registry import GRADERS, grader_for

ROOT = Path(__file__).resolve().parents[1]
CODE = [p for d in ("src", "eval", "scripts", "tools", "judge") for p in (ROOT / d).rglob("*.py")]


def _defs(kind: type, name: str) -> list[str]:
    out = []
    for path in CODE:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, kind) and node.name == name:
                out.append(str(path.relative_to(ROOT)))
    return out


def test_one_eval_item_type_and_one_answers_reader():
    assert _defs(ast.ClassDef, "EvalItem") == ["src/supportbot/records.py"]
    assert _defs(ast.FunctionDef, "load_answers") == ["src/supportbot/records.py"]


def test_registry_matches_the_config_field_and_the_interface():
    modes = typing.get_args(JudgeConfig.model_fields["judge_mode"].annotation)
    assert set(GRADERS) == set(modes)
    members = [m for m in vars(Grader) if not m.startswith("_") and callable(getattr(Grader, m))]
    for kind, cls in GRADERS.items():
        assert cls.kind == kind
        assert all(callable(getattr(cls, m, None)) for m in members), kind
    for name in ("local-qwen1.5b-checklist", "local-qwen0.5b"):
        cfg = load_config(name)
        assert grader_for(cfg).kind == cfg.judge_mode


def test_no_judge_kind_dispatch_outside_the_registry():
    for path in (ROOT / "src" / "supportbot" / "judge").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "is_checklist" not in text and 'judge_mode == "' not in text, path


def test_out_of_fold_fitter():
    assert sorted(np.bincount(folds(12))) == [2, 2, 2, 3, 3]
    assert best_on_grid([0.1, 0.2, 0.3], lambda t: None if t == 0.1 else 1.0) == 0.2  # ties: first in grid order
    assert best_on_grid([0.1, 0.2, 0.3], lambda t: 1.0, prefer=0.3) == 0.3  # ties: closest to prefer
    x = np.arange(20.0)
    seen: list[list[int]] = []

    def fit(rows: list[int]) -> float:
        seen.append(rows)
        return float(np.mean(x[rows]))

    pred, chosen = out_of_fold(20, fit, lambda held, m: [m for _ in held], seed=0)
    f = folds(20)
    for k, rows in enumerate(seen):  # each fold's value is fitted without its own rows
        assert not set(rows) & {i for i in range(20) if f[i] == k}
        assert all(pred[i] == chosen[k] for i in range(20) if f[i] == k)


@pytest.mark.parametrize("mode", ["holistic", "checklist"])
def test_unknown_kind_is_an_error(mode):
    cfg = load_config("local-qwen0.5b").model_copy(update={"judge_mode": "nope"})
    with pytest.raises(ValueError, match="unknown judge_mode 'nope'"):
        grader_for(cfg)
    assert GRADERS[mode]().kind == mode
