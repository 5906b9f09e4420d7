"""Judge-free behaviour metrics of an answer: loops, length stops, escalation, questions, key-fact recall.

Deterministic detectors (regular expressions and word overlap), so they show a training effect
without any LLM judge and a rerun gives the same numbers. Each detector is tested on labelled
examples (tests/test_behaviour.py); what they cannot see (a wrong fact phrased with the right
words) is the judge's job.

- ``loops``: the share of distinct word 6-grams is below 0.7 (a model repeating itself).
- ``hit_max_tokens``: generation stopped at ``max_tokens`` (``finish_reason == "length"``).
- ``escalates``: the answer says it lacks the information ("I don't have that information",
  "I can't confirm") or offers a human (escalate, a support agent, tier 2, open a ticket).
- ``asks_question``: a sentence of the answer ends with "?".
- ``key_fact_recall``: a key fact counts as stated when at least 60 % of its content words
  (lower-cased, light suffix stripping, English stop words removed; numbers and version strings
  kept whole) occur in the answer.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache

LOOP_NGRAM = 6
LOOP_THRESHOLD = 0.7
FACT_THRESHOLD = 0.6

_WORD = re.compile(r"[a-z0-9]+(?:[.:][a-z0-9]+)*")
_DECLINE = re.compile(
    r"\b(?:i\s+(?:do\s+not|don't|don’t)\s+have\s+(?:that|this|any|the|enough|reliable|information|details|info)"
    r"|i\s+(?:cannot|can't|can’t|can\s+not)\s+(?:confirm|say|tell|find|verify|answer|promise|guarantee|give)"
    r"|(?:has|have)\s+not\s+(?:been\s+)?(?:published|announced|documented)|(?:hasn't|haven't|hasn’t)\s+(?:been\s+)?(?:published|announced)"
    r"|not\s+(?:covered|documented|mentioned)\s+in\s+the\s+(?:documentation|kb|knowledge)"
    r"|no\s+information\s+(?:about|on)|i(?:\s+am|'m|’m)\s+not\s+(?:sure|able\s+to\s+(?:confirm|say))"
    # bare refusals ("I'm sorry, I can't help with that."): a tuned 0.5B's commonest decline in the recipe screen
    r"|i\s+(?:cannot|can't|can’t|can\s+not)\s+(?:help|assist)\s+(?:you\s+)?with\s+(?:that|this)\b"
    r"|i(?:\s+am|'m|’m)\s+(?:unable|not\s+able)\s+to\s+(?:help|assist)\s+(?:you\s+)?with\s+(?:that|this)\b)",
    re.IGNORECASE,
)
_ESCALATE = re.compile(
    r"\b(?:escalat\w*|human\s+agent|support\s+agent|(?:a|our)\s+(?:support\s+)?(?:agent|specialist)|tier\s*2"
    r"|open\s+a\s+(?:support\s+)?ticket|(?:contact|reach|ask)\s+(?:skylark(?:'s)?\s+)?support(?:\s+team)?"
    r"|pass\s+(?:this|it|your\s+question)\s+(?:on\s+)?to)\b",
    re.IGNORECASE,
)
_QUESTION = re.compile(r"\?(?=\s|$|[\"')\]])")
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def words(text: str) -> list[str]:
    """Lower-cased word tokens; version strings ("2.4.2") and times ("03:00") stay one token."""
    return _WORD.findall(text.lower())


def _stem(word: str) -> str:
    """Light suffix stripping, enough for 'updates'/'update', 'blinking'/'blink', 'downgrading'/'downgrade'."""
    if word[0].isdigit():
        return word
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def content_words(text: str) -> set[str]:
    """Stemmed words of ``text`` without English stop words (digits and versions kept)."""
    stop = _stop_words()
    return {_stem(w) for w in words(text) if (w not in stop and len(w) > 1) or w[0].isdigit()}


def unique_ngram_share(text: str, n: int = LOOP_NGRAM) -> float:
    """Distinct word n-grams / all n-grams (1.0 for answers shorter than n + 1 words)."""
    toks = words(text)
    if len(toks) <= n:
        return 1.0
    grams = [tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)]
    return len(set(grams)) / len(grams)


def loops(text: str) -> bool:
    return unique_ngram_share(text) < LOOP_THRESHOLD


def declines(text: str) -> bool:
    """Says it does not have (or cannot confirm) the information."""
    return bool(_DECLINE.search(text))


def offers_escalation(text: str) -> bool:
    """Offers a human: escalation, a support agent, tier 2, a ticket, contacting support."""
    return bool(_ESCALATE.search(text))


def escalates(text: str) -> bool:
    return declines(text) or offers_escalation(text)


def asks_question(text: str) -> bool:
    """A sentence outside code (fenced blocks and inline backticks) ends with a question mark."""
    return bool(_QUESTION.search(_CODE.sub(" ", text)))


def fact_stated(fact: str, answer: str, threshold: float = FACT_THRESHOLD) -> bool:
    """At least ``threshold`` of the fact's content words occur in the answer."""
    need = content_words(fact)
    if not need:
        return False
    return len(need & content_words(answer)) / len(need) >= threshold


@dataclass(frozen=True)
class Behaviour:
    """What the detectors see in one answer."""

    unique_6gram_share: float
    loops: bool
    hit_max_tokens: bool
    declines: bool
    offers_escalation: bool
    escalates: bool
    asks_question: bool
    key_facts_stated: int
    key_facts_total: int

    @property
    def key_fact_recall(self) -> float | None:
        return self.key_facts_stated / self.key_facts_total if self.key_facts_total else None

    def to_dict(self) -> dict:
        return asdict(self) | {"key_fact_recall": self.key_fact_recall}


def measure(answer: str, *, finish_reason: str | None = None, key_facts: list[str] | None = None) -> Behaviour:
    """Run every detector on one answer."""
    facts = key_facts or []
    share = unique_ngram_share(answer)
    dec, esc = declines(answer), offers_escalation(answer)
    return Behaviour(
        unique_6gram_share=round(share, 4), loops=share < LOOP_THRESHOLD, hit_max_tokens=finish_reason == "length",
        declines=dec, offers_escalation=esc, escalates=dec or esc,
        asks_question=asks_question(answer), key_facts_stated=sum(fact_stated(f, answer) for f in facts),
        key_facts_total=len(facts),
    )
