"""Control answers with a known label, to balance the calibration label set (deterministic, seeded).

Model answers of a 135M model are almost all hallucinated, so a label set drawn from them alone
cannot measure a judge's specificity. The controls fix the balance:

- ``reference``: the item's reference answer verbatim (expected clean);
- ``spliced_forbidden``: the reference with one of the item's forbidden claims inserted after its
  first sentence (expected hallucinated);
- ``altered_fact``: the reference with one number that a key fact states changed (e.g. "10
  seconds" -> "30 seconds", "2.3.0" -> "2.1.0"; expected hallucinated);
- ``escalation``: a plain decline-and-escalate reply (``prompts/control_escalation.txt``;
  expected not_attempted).

The expectation is recorded but annotators never see it: they label every answer blind.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from supportbot.paths import load_prompt

RECIPES = ("reference", "spliced_forbidden", "altered_fact", "escalation")
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)*)(?![\w.]*\d)")
_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+|\n")


@dataclass(frozen=True)
class Control:
    item_id: str
    recipe: str
    answer: str
    note: str  # what was changed (for the key file, never shown to annotators)


def _other_number(num: str, rng: random.Random) -> str:
    """A different, plausible number of the same shape ("10" -> "30", "2.3.0" -> "2.1.0")."""
    if "." in num:
        parts = num.split(".")
        i = len(parts) - 2 if len(parts) > 2 else len(parts) - 1
        old = int(parts[i])
        parts[i] = str(old + 1 if old < 2 else old - 1 if rng.random() < 0.5 else old + 1)
        return ".".join(parts)
    value = int(num)
    choices = [v for v in (value * 2, value * 3, value + 5, max(1, value // 2), value + 1) if v != value]
    return str(rng.choice(choices))


def splice_forbidden(item: dict[str, Any], rng: random.Random) -> Control | None:
    claims = item.get("forbidden_claims") or []
    ref = item["reference_answer"]
    if not claims:
        return None
    claim = rng.choice(claims).rstrip(".") + "."
    parts = _SENTENCE_END.split(ref, maxsplit=1)
    answer = f"{parts[0]} {claim}" + (f" {parts[1]}" if len(parts) > 1 else "")
    return Control(item["id"], "spliced_forbidden", answer, f"inserted forbidden claim: {claim}")


def alter_fact(item: dict[str, Any], rng: random.Random) -> Control | None:
    ref = item["reference_answer"]
    facts = item.get("key_facts") or []
    candidates = [(f, m) for f in facts for m in _NUMBER.finditer(f) if m.group(1) in ref]
    if not candidates:
        return None
    fact, match = rng.choice(candidates)
    num = match.group(1)
    new = _other_number(num, rng)
    # not a list marker ("1." at a line start): changing it alters no fact (seen in label set v2: rows c034, c055)
    pos = [m for m in _NUMBER.finditer(ref) if m.group(1) == num
           and not (ref[m.end(1):m.end(1) + 1] == "." and (m.start(1) == 0 or ref[m.start(1) - 1] == "\n"))]
    if not pos:
        return None
    hit = pos[0]
    answer = ref[: hit.start(1)] + new + ref[hit.end(1):]
    return Control(item["id"], "altered_fact", answer, f"changed {num} -> {new} (key fact: {fact})")


def escalation(item: dict[str, Any]) -> Control:
    return Control(item["id"], "escalation", load_prompt("control_escalation"), "plain decline and escalation")


def reference(item: dict[str, Any]) -> Control:
    return Control(item["id"], "reference", item["reference_answer"], "reference answer verbatim")


def make(item: dict[str, Any], recipe: str, rng: random.Random) -> Control | None:
    """One control answer for ``item`` (None when the recipe does not apply to it)."""
    if recipe == "reference":
        return reference(item)
    if recipe == "spliced_forbidden":
        return splice_forbidden(item, rng)
    if recipe == "altered_fact":
        return alter_fact(item, rng)
    if recipe == "escalation":
        return escalation(item)
    raise ValueError(f"unknown control recipe {recipe!r} (known: {', '.join(RECIPES)})")
