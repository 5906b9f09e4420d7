"""Strict parsing of judge replies (JSON verdicts and verdict-token logprobs).

A JSON reply must be one JSON object and nothing else (a Markdown code fence around it is
allowed); anything else raises :class:`VerdictParseError`, which the caller answers with one repair
request and then records as ``unparseable``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from supportbot.judge.labels import HALLUCINATION_VERDICTS, PAIRWISE_VERDICTS, UNPARSEABLE  # noqa: F401 - re-exported

HALLUCINATION_TOKENS = {"0": "0", "1": "1", "2": "2", "X": "not_attempted"}

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S | re.I)


class VerdictParseError(ValueError):
    """The judge's reply is not a valid verdict; the message says why (sent back in the repair request)."""


def parse_json_object(text: str) -> dict[str, Any]:
    s = (text or "").strip()
    m = _FENCE.match(s)
    if m:
        s = m.group(1).strip()
    if not s:
        raise VerdictParseError("empty reply")
    try:
        obj = json.loads(s)
    except json.JSONDecodeError as exc:
        raise VerdictParseError(f"not a single JSON object ({exc.msg} at char {exc.pos})") from None
    if not isinstance(obj, dict):
        raise VerdictParseError(f"expected a JSON object, got {type(obj).__name__}")
    return obj


def _reason(obj: dict[str, Any]) -> str:
    r = obj.get("reason", "")
    if not isinstance(r, str):
        raise VerdictParseError("'reason' must be a string")
    return r.strip()


def parse_pairwise(text: str) -> dict[str, Any]:
    """``{"verdict": "A"|"B"|"tie", "reason": str}`` → ``{"verdict", "reason"}``."""
    obj = parse_json_object(text)
    v = obj.get("verdict")
    if not isinstance(v, str):
        raise VerdictParseError("missing string field 'verdict' (one of \"A\", \"B\", \"tie\")")
    norm = {"a": "A", "b": "B", "tie": "tie"}.get(v.strip().lower())
    if norm is None:
        raise VerdictParseError(f"'verdict' must be \"A\", \"B\" or \"tie\", got {v!r}")
    return {"verdict": norm, "reason": _reason(obj)}


def parse_hallucination(text: str) -> dict[str, Any]:
    """``{"verdict": 0|1|2|"not_attempted", "claims": [str], "reason": str}``."""
    obj = parse_json_object(text)
    v = obj.get("verdict")
    if isinstance(v, bool) or v is None:
        raise VerdictParseError("missing field 'verdict' (0, 1, 2 or \"not_attempted\")")
    key = str(v).strip().lower().replace(" ", "_").replace("-", "_")
    if key not in HALLUCINATION_VERDICTS:
        raise VerdictParseError(f"'verdict' must be 0, 1, 2 or \"not_attempted\", got {v!r}")
    claims = obj.get("claims", [])
    if not isinstance(claims, list) or not all(isinstance(c, str) for c in claims):
        raise VerdictParseError("'claims' must be a list of strings")
    return {"verdict": key, "claims": [c.strip() for c in claims if c.strip()], "reason": _reason(obj)}


def _token_masses(top: list[list[Any]] | None, wanted: dict[str, str]) -> dict[str, float]:
    """Probability mass of each wanted verdict among the first token's top logprobs."""
    mass = {v: 0.0 for v in wanted.values()}
    for tok, lp in top or []:
        norm = str(tok).strip().strip("\"'`*(").upper()
        for surface, verdict in wanted.items():
            if norm == surface.upper():
                mass[verdict] += math.exp(float(lp))
    return mass


def parse_pairwise_logprobs(top: list[list[Any]] | None) -> dict[str, Any]:
    """``p_a`` = P(A) / (P(A) + P(B)) at the verdict position; raises when neither letter is in the top-k."""
    m = _token_masses(top, {"A": "A", "B": "B"})
    total = m["A"] + m["B"]
    if total <= 0:
        raise VerdictParseError(f"neither 'A' nor 'B' among the top tokens {[t for t, _ in top or []]}")
    return {"p_a": m["A"] / total, "mass": total}


def parse_hallucination_logprobs(top: list[list[Any]] | None) -> dict[str, Any]:
    """Normalised probabilities of 0 / 1 / 2 / X (= not attempted) at the verdict position."""
    m = _token_masses(top, HALLUCINATION_TOKENS)
    total = sum(m.values())
    if total <= 0:
        raise VerdictParseError(f"none of 0/1/2/X among the top tokens {[t for t, _ in top or []]}")
    probs = {k: v / total for k, v in m.items()}
    return {"probs": probs, "mass": total}
