"""One judge verdict: ask (cache first), parse strictly, one repair request, else ``Failure.UNPARSEABLE``.

In ``logprobs`` mode the raw verdict-token probabilities are kept in the record, so a threshold
fitted later on the rubric set is applied without asking the judge again (:func:`apply_threshold`,
:func:`combine_orders`).
"""

from __future__ import annotations

from typing import Any

from supportbot.judge.endpoint.client import JudgeCallError, JudgeClient
from supportbot.judge.graders.parse import (
    VerdictParseError,
    parse_hallucination,
    parse_hallucination_logprobs,
    parse_pairwise,
    parse_pairwise_logprobs,
)
from supportbot.judge.graders.prompting import repair_messages
from supportbot.judge.labels import ERROR, UNPARSEABLE


def _usage(*resps: dict[str, Any]) -> dict[str, Any]:
    return {"prompt_tokens": sum(r.get("prompt_tokens", 0) for r in resps),
            "completion_tokens": sum(r.get("completion_tokens", 0) for r in resps),
            "latency_s": round(sum(r.get("latency_s", 0.0) for r in resps), 3),
            "cached": all(r.get("cached") for r in resps)}


def ask(client: JudgeClient, messages: list[dict], kind: str, meta: dict[str, Any]) -> dict[str, Any]:
    """Judge one prompt; ``kind`` starts with ``pairwise`` or ``hallucination``. Returns a verdict record."""
    cfg = client.cfg
    logprobs = cfg.uses_logprobs
    pairwise = kind.startswith("pairwise")
    try:
        resp = client.complete(messages, logprobs=logprobs, meta={"kind": kind, **meta})
    except JudgeCallError as exc:
        return {"verdict": ERROR, "error": str(exc)[:300], "cached": False}
    if logprobs:
        try:
            parsed = (parse_pairwise_logprobs if pairwise else parse_hallucination_logprobs)(resp["top_logprobs"])
        except VerdictParseError as exc:
            return {"verdict": UNPARSEABLE, "raw": resp["content"], "parse_error": str(exc), **_usage(resp)}
        return {"verdict": None, **parsed, "raw": resp["content"], **_usage(resp)}  # verdict set by apply_threshold
    parser = parse_pairwise if pairwise else parse_hallucination
    try:
        return {**parser(resp["content"]), "repaired": False, "raw": resp["content"], **_usage(resp)}
    except VerdictParseError as first:
        try:
            fix = client.complete(repair_messages(cfg, messages, resp["content"], str(first)),
                                  meta={"kind": kind + "-repair", **meta})
        except JudgeCallError as exc:
            return {"verdict": UNPARSEABLE, "raw": resp["content"], "parse_error": f"{first}; repair failed: {exc}",
                    **_usage(resp)}
        try:
            return {**parser(fix["content"]), "repaired": True, "raw": fix["content"], **_usage(resp, fix)}
        except VerdictParseError as second:
            return {"verdict": UNPARSEABLE, "raw": fix["content"], "parse_error": f"{first}; after repair: {second}",
                    "repaired": True, **_usage(resp, fix)}


def apply_threshold(rec: dict[str, Any], kind: str, threshold: float = 0.5) -> dict[str, Any]:
    """Set ``verdict`` of a logprobs record from its probabilities (no-op for JSON records).

    Pairwise: the order-level verdict is A when P(A) ≥ 0.5 (the pair verdict uses both orders, see
    :func:`combine_orders`). Hallucination: ``not_attempted`` when X is the most likely token, else
    hallucinated when P(1) + P(2) among the attempted labels reaches ``threshold``.
    """
    if rec.get("verdict") in (UNPARSEABLE, ERROR) or ("p_a" not in rec and "probs" not in rec):
        return rec
    rec = dict(rec)
    if kind == "pairwise":
        threshold = 0.5
        rec["verdict"] = "A" if rec["p_a"] >= threshold else "B"
    else:
        p = rec["probs"]
        attempted = p["0"] + p["1"] + p["2"]
        if p["not_attempted"] > max(p["0"], p["1"], p["2"]):
            rec["verdict"] = "not_attempted"
        elif attempted > 0 and (p["1"] + p["2"]) / attempted >= threshold:
            rec["verdict"] = "2" if p["2"] >= p["1"] else "1"
        else:
            rec["verdict"] = "0"
        rec.setdefault("claims", [])
    rec["threshold"] = threshold
    return rec


def combine_orders(first: dict[str, Any], second: dict[str, Any], tie_band: float = 0.0) -> dict[str, Any]:
    """Pair verdict from both orders: first order shows (x, y), second shows (y, x).

    Returns ``winner`` in ``x`` / ``y`` / ``tie`` or a :class:`judge.labels.Failure`, and ``consistent``
    (whether the two order-level verdicts name the same answer).

    JSON verdicts follow MT-Bench: a verdict that flips with the order is a tie. Logprob verdicts
    use the position-debiased preference for x, ``pref_x`` = (P_xy(A) − P_yx(A)) / 2: the first-
    position bias appears in both terms and cancels. x wins when ``pref_x`` > ``tie_band``, y when
    it is < −``tie_band``, else tie (``tie_band`` fitted on the rubric set).
    """
    v1, v2 = first.get("verdict"), second.get("verdict")
    for bad in (ERROR, UNPARSEABLE):  # a failed request outranks an unparseable reply
        if bad in (v1, v2):
            return {"winner": bad, "consistent": None}
    w1 = {"A": "x", "B": "y", "tie": "tie"}[v1]
    w2 = {"A": "y", "B": "x", "tie": "tie"}[v2]
    if "p_a" in first and "p_a" in second:
        pref = (first["p_a"] - second["p_a"]) / 2
        winner = "x" if pref > tie_band else "y" if pref < -tie_band else "tie"
        return {"winner": winner, "consistent": w1 == w2, "pref_x": pref, "tie_band": tie_band}
    return {"winner": w1 if w1 == w2 else "tie", "consistent": w1 == w2}
