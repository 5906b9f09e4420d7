"""The recipe screen's arms and the rule that picks the default among them (eval/screen_arms.yaml).

A pure function of the measured rows: ``apply_rule(rows, rule)`` says which arm wins and, for every
other arm, which conditions it failed. tools/screen_arms.py measures the rows.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class Rule(BaseModel):
    """The selection rule, fixed before the screen ran."""

    model_config = ConfigDict(extra="forbid")
    text: str
    guard_margin: float = Field(ge=0, le=1)
    min_escalation: float = Field(ge=0, le=1)
    max_train_minutes: float = Field(gt=0)


class Training(BaseModel):
    """One training run: an Axolotl YAML, its training data and the keys the screen changes."""

    model_config = ConfigDict(extra="forbid")
    config: str
    data: str
    overrides: dict[str, object] = {}


class Arm(BaseModel):
    """A base model, a training run (None: untrained) and whether passages are in the prompt."""

    model_config = ConfigDict(extra="forbid")
    name: str
    base: str
    training: str | None = None
    passages: bool = False


class Screen(BaseModel):
    """eval/screen_arms.yaml."""

    model_config = ConfigDict(extra="forbid")
    rule: Rule
    models: dict[str, str]
    trainings: dict[str, Training]
    arms: list[Arm]

    @model_validator(mode="after")
    def _references(self) -> Screen:
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"arm names repeat: {sorted({n for n in names if names.count(n) > 1})}")
        for a in self.arms:
            if a.base not in self.models:
                raise ValueError(f"arm {a.name}: base {a.base!r} is not in models {sorted(self.models)}")
            if a.training is not None and a.training not in self.trainings:
                raise ValueError(f"arm {a.name}: training {a.training!r} is not in trainings")
        return self


def load_screen(path: Path) -> Screen:
    """Read and check the screen YAML; a bad one is a ValueError naming the file and field."""
    try:
        return Screen.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except ValidationError as exc:
        raise ValueError(f"{path}: {exc}") from None


class ArmResult(BaseModel):
    """What the rule reads of one screened arm (dev and guard-set rates are fractions)."""

    name: str
    base: str
    trained: bool
    passages: bool
    product_recall: float
    it_recall: float
    escalation: float | None          # escalates where the dev reference escalates
    guard_ask: float
    guard_decline: float
    train_minutes: float | None       # None for an untrained arm


def own_base(arm: ArmResult, rows: list[ArmResult]) -> ArmResult | None:
    """The untrained arm with the same base model and passage setting (an untrained arm is its own)."""
    return next((r for r in rows if not r.trained and r.base == arm.base and r.passages == arm.passages), None)


def failures(arm: ArmResult, rows: list[ArmResult], rule: Rule) -> list[str]:
    """The rule's conditions this arm fails (empty: it is kept)."""
    base = own_base(arm, rows)
    out: list[str] = []
    if base is None:
        return ["its own base was not screened"]
    if arm.it_recall < base.it_recall:
        out.append(f"IT recall {arm.it_recall:.3f} < its base's {base.it_recall:.3f}")
    if arm.guard_ask > base.guard_ask + rule.guard_margin + 1e-9:
        out.append(f"guard ask rate {arm.guard_ask:.0%} > base {base.guard_ask:.0%} + {rule.guard_margin:.0%}")
    if arm.guard_decline > base.guard_decline + rule.guard_margin + 1e-9:
        out.append(f"guard decline rate {arm.guard_decline:.0%} > base {base.guard_decline:.0%} + {rule.guard_margin:.0%}")
    if arm.escalation is None or arm.escalation < rule.min_escalation:
        esc = "n/a" if arm.escalation is None else f"{arm.escalation:.0%}"
        out.append(f"escalation {esc} < {rule.min_escalation:.0%}")
    if (arm.train_minutes or 0.0) > rule.max_train_minutes:
        out.append(f"training {arm.train_minutes:.1f} min > {rule.max_train_minutes:g}")
    return out


def apply_rule(rows: list[ArmResult], rule: Rule) -> tuple[str | None, dict[str, list[str]]]:
    """(the winning arm or None when none is kept, each arm's failed conditions)."""
    failed = {r.name: failures(r, rows, rule) for r in rows}
    kept = [r for r in rows if not failed[r.name]]
    if not kept:
        return None, failed
    best = max(round(r.product_recall, 3) for r in kept)
    tied = [r for r in kept if round(r.product_recall, 3) == best]
    return min(tied, key=lambda r: r.train_minutes or 0.0).name, failed
