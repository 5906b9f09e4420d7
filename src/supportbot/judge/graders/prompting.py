"""Render judge prompts from ``prompts/judge_*.txt`` (``### system`` / ``### user`` sections, ``{{field}}`` slots).

Answers are data: they are cut to the config's word budget, and the delimiter markers (``<<<`` and
``>>>``) are neutralised inside them, so an answer cannot close its own block; with the config's
``sanitize_answers`` (the default), lines addressed to the grader are dropped first (``src/supportbot/judge/graders/sanitize.py``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from supportbot.judge.endpoint.config import ConfigError, JudgeConfig
from supportbot.judge.graders.sanitize import sanitize
from supportbot.judge.inputs import KB_DIR, kb_excerpt, truncate_words
from supportbot.paths import load_prompt
from supportbot.records import EvalItem

_SLOT = re.compile(r"\{\{(\w+)\}\}")


@lru_cache(maxsize=32)
def load_template(name: str) -> tuple[str, str]:
    text = load_prompt(name)
    m = re.match(r"\s*### system\s*\n(.*?)\n### user\s*\n(.*)", text, re.S)
    if not m:
        raise ConfigError(f"prompts/{name}.txt must have a '### system' and a '### user' section")
    return m.group(1).strip(), m.group(2).strip()


def render(template: str, **fields: str) -> str:
    def sub(m: re.Match) -> str:
        if m.group(1) not in fields:
            raise KeyError(f"prompt slot {{{{{m.group(1)}}}}} has no value")
        return fields[m.group(1)]

    return _SLOT.sub(sub, template)


def as_data(text: str, max_words: int, *, clean: bool = False) -> str:
    """An answer as an inert block: optionally sanitized, truncated, delimiter markers defused."""
    if clean:
        text = sanitize(text)[0]
    text = truncate_words(text, max_words)
    return text.replace("<<<", "‹‹‹").replace(">>>", "›››") or "(empty answer)"


EARLIER_TURN_WORDS = 30


def conversation_text(item: EvalItem, max_words: int) -> str:
    """The conversation within ``max_words``: the last user turn first, then earlier turns (newest first,
    each at most 30 words) while the budget lasts; dropped turns are marked."""
    turns = [m for m in item.messages if m["role"] != "system"]
    last = turns[-1]
    kept = [f"{last['role'].upper()}: {as_data(last['content'], max_words)}"]
    left = max_words - min(len(last["content"].split()), max_words)
    skipped = 0
    for m in reversed(turns[:-1]):
        if left < 8:
            skipped += 1
            continue
        text = as_data(m["content"], min(EARLIER_TURN_WORDS, left))
        kept.insert(0, f"{m['role'].upper()}: {text}")
        left -= len(text.split())
    if skipped:
        kept.insert(0, f"({skipped} earlier turn(s) omitted)")
    return "\n".join(kept)


def _facts(xs: list[str], max_words: int) -> str:
    return truncate_words("; ".join(xs), max_words) if xs else "(none given)"


def pairwise_messages(cfg: JudgeConfig, item: EvalItem, answer_a: str, answer_b: str, *, logprobs: bool) -> list[dict]:
    b = cfg.budget
    system, user = load_template(cfg.prompts.pairwise_logprobs if logprobs else cfg.prompts.pairwise)
    return [{"role": "system", "content": system},
            {"role": "user", "content": render(
                user, conversation=conversation_text(item, b.conversation_words),
                reference=as_data(item.reference_answer, b.reference_words) if item.reference_answer else "(none given)",
                key_facts=_facts(item.key_facts, b.facts_words),
                answer_a=as_data(answer_a, b.answer_words, clean=cfg.sanitize_answers),
                answer_b=as_data(answer_b, b.answer_words, clean=cfg.sanitize_answers))}]


def hallucination_messages(cfg: JudgeConfig, item: EvalItem, answer: str, *, logprobs: bool,
                           kb_dir: Path = KB_DIR) -> list[dict]:
    b = cfg.budget
    system, user = load_template(cfg.prompts.hallucination_logprobs if logprobs else cfg.prompts.hallucination)
    query = " ".join([item.question, *item.key_facts, *item.forbidden_claims])
    kb = kb_excerpt(item.kb_refs, query, b.kb_words, kb_dir) if item.kb_refs else ""
    return [{"role": "system", "content": system},
            {"role": "user", "content": render(
                user, conversation=conversation_text(item, b.conversation_words),
                answerable_note="" if item.answerable else load_prompt("judge_unanswerable_note"),
                reference=as_data(item.reference_answer, b.reference_words) if item.reference_answer else "(none given)",
                key_facts=_facts(item.key_facts, b.facts_words),
                forbidden_claims=_facts(item.forbidden_claims, b.forbidden_words),
                kb=kb or "(none)", answer=as_data(answer, b.answer_words, clean=cfg.sanitize_answers))}]


def repair_messages(cfg: JudgeConfig, messages: list[dict], reply: str, error: str) -> list[dict]:
    return [*messages, {"role": "assistant", "content": reply[:400]},
            {"role": "user", "content": render(load_prompt(cfg.prompts.repair), error=error[:200])}]
