"""Self-distilled training targets (Yang et al. 2024, "Self-Distillation Bridges Distribution Gap in Language
Model Fine-Tuning"): the base model rewrites each assistant reply of a training file in its own words, given the
reference reply, so fine-tuning moves the model less far from its own distribution (issue 22's anti-forgetting arm).

Pure functions only; tools/self_distill.py serves the model and calls them. A rewrite replaces its reference
only when it keeps the reference's behaviour and facts (``rejection_reasons``); otherwise the reference stays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from supportbot import behaviour as bh
from supportbot.provenance import sha256_text

# version numbers (1.4.2), model names (SR-300), numbers of two or more digits (20 GB, 0x800f0922): the facts a
# rewrite must keep verbatim; single digits are left out (list markers, "1 minute" vs "one minute")
_FACT_TOKEN = re.compile(r"\b(?:\d+(?:\.\d+)+|[A-Za-z]+-\d+[A-Za-z]*|0x[0-9A-Fa-f]+|\d{2,})\b")


# share of the reference's content words (supportbot.behaviour.content_words) a rewrite must keep: a rewrite
# that drops most steps would teach shorter, emptier replies
MIN_CONTENT_KEPT = 0.5


@dataclass(frozen=True)
class Target:
    """One distinct assistant reply to rewrite, with the conversation it first answers."""

    key: str                              # sha256 of the reply text: same reply, same rewrite
    context: list[dict[str, str]]         # system + turns before the reply, as in the training row
    reference: str


def fact_tokens(text: str) -> set[str]:
    """Numbers, versions and model names of ``text`` (lower-cased)."""
    return {t.lower() for t in _FACT_TOKEN.findall(text)}


def targets(rows: list[dict[str, Any]]) -> list[Target]:
    """Every distinct assistant reply of ``rows`` (chat-template rows with ``messages``), in file order."""
    seen: dict[str, Target] = {}
    for row in rows:
        msgs = row["messages"]
        for i, m in enumerate(msgs):
            if m["role"] == "assistant":
                key = sha256_text(m["content"])
                if key not in seen:
                    seen[key] = Target(key=key, context=[dict(x) for x in msgs[:i]], reference=m["content"])
    return list(seen.values())


def request_messages(t: Target, template: str) -> list[dict[str, str]]:
    """The chat request for one rewrite: the training row's turns before the reply, with the reference reply
    added to the system prompt through ``template`` (prompts/self_distill.txt, ``{reference}``), so the model
    answers the customer's real last message as it would at answer time."""
    first, *rest = t.context
    if first["role"] != "system" or not rest or rest[-1]["role"] != "user":
        raise ValueError(f"reply {t.key[:12]}: needs a system prompt first and the user's turn before the reply")
    system = first["content"] + "\n\n" + template.format(reference=t.reference)
    return [{"role": "system", "content": system}, *rest]


def rejection_reasons(reference: str, rewrite: str, finish_reason: str | None) -> list[str]:
    """Why a rewrite may not replace its reference (empty: it may). It must end on its own, keep whether the
    reply asks a question and whether it declines or offers escalation, keep every number, version and model
    name, not loop, and keep at least half of the reference's content words."""
    reasons = []
    if not rewrite.strip():
        reasons.append("empty")
    if finish_reason == "length":
        reasons.append("stopped at max_tokens")
    if bh.asks_question(reference) != bh.asks_question(rewrite):
        reasons.append("question behaviour changed")
    if bh.escalates(reference) != bh.escalates(rewrite):
        reasons.append("escalation behaviour changed")
    if not fact_tokens(reference) <= fact_tokens(rewrite):
        reasons.append("lost a number, version or model name")
    if bh.loops(rewrite):
        reasons.append("loops")
    ref_words = bh.content_words(reference)
    if ref_words and len(ref_words & bh.content_words(rewrite)) < MIN_CONTENT_KEPT * len(ref_words):
        reasons.append("dropped content")
    return reasons


def apply_rewrites(rows: list[dict[str, Any]], accepted: dict[str, str]) -> list[dict[str, Any]]:
    """``rows`` with each assistant reply whose key is in ``accepted`` replaced by its rewrite (other fields kept)."""
    out = []
    for row in rows:
        msgs = [dict(m, content=accepted.get(sha256_text(m["content"]), m["content"])) if m["role"] == "assistant"
                else dict(m) for m in row["messages"]]
        out.append({**row, "messages": msgs})
    return out
