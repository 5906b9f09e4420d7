"""Training-set variants: the fixed expansion (revised answers, direct-answer openers) and the opener cap.

``fixed``: like the default expansion, but every answer that has a ``revised_answer`` uses it, and each
clarifying reply's ``direct`` openers (the detail given up front) become single-turn conversations whose
first reply is that reply's answer, so one scenario teaches both "ask when the detail is missing" and
"answer when it is given".

The opener cap keeps at most ``k`` conversations per scenario that open with the same assistant reply
(a scenario's 4-6 openers repeat one answer or one clarifying question). Of each such group it keeps the
``k`` conversations that cover the most distinct final answers and, among those, whose user turns differ
most: the largest sum of pairwise token-set (Jaccard) distances; ties go to the earlier openers.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from math import comb
from typing import Any

from .authoring import normalize
from .schema import Scenario

VARIANTS = ("today", "fixed")
EXHAUSTIVE_LIMIT = 20_000  # subsets tried exactly; larger groups are chosen greedily


def _turns(system: str, *pairs: tuple[str, str]) -> list[dict[str, str]]:
    conv = [{"role": "system", "content": system}]
    for role, text in pairs:
        conv.append({"role": role, "content": text.strip()})
    return conv


def expand_fixed(scenario: Scenario, system_prompt: str) -> list[tuple[str, list[dict[str, str]]]]:
    """``(id suffix, conversation)`` of one scenario in the fixed variant (``#i``: opener i, ``#dJ.M``:
    direct opener M of reply J)."""
    out = []
    if scenario.answer is not None:
        answer = scenario.revised_answer or scenario.answer
        for i, opener in enumerate(scenario.openers):
            out.append((f"#{i}", _turns(system_prompt, ("user", opener), ("assistant", answer))))
        return out
    assert scenario.clarify is not None
    replies = scenario.clarify.replies
    for i, opener in enumerate(scenario.openers):
        reply = replies[i % len(replies)]
        out.append((f"#{i}", _turns(system_prompt, ("user", opener), ("assistant", scenario.clarify.question),
                                    ("user", reply.user), ("assistant", reply.revised_answer or reply.answer))))
    for j, reply in enumerate(replies):
        for m, opener in enumerate(reply.direct):
            out.append((f"#d{j}.{m}", _turns(system_prompt, ("user", opener),
                                             ("assistant", reply.revised_answer or reply.answer))))
    return out


def token_set_distance(a: str, b: str) -> float:
    """1 - Jaccard similarity of the two texts' normalised word sets (0 = same words, 1 = none shared)."""
    sa, sb = set(normalize(a).split()), set(normalize(b).split())
    if not sa and not sb:
        return 0.0
    return 1.0 - len(sa & sb) / len(sa | sb)


def most_different(texts: Sequence[str], answers: Sequence[str], k: int) -> list[int]:
    """Indices (ascending) of the ``k`` items covering the most distinct ``answers`` whose ``texts`` have
    the largest sum of pairwise :func:`token_set_distance`; the earliest such subset on ties."""
    n = len(texts)
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    if n <= k:
        return list(range(n))
    dist = [[token_set_distance(texts[i], texts[j]) for j in range(n)] for i in range(n)]

    def score(subset: Sequence[int]) -> tuple[int, float]:
        spread = sum(dist[i][j] for i, j in combinations(subset, 2))
        return len({answers[i] for i in subset}), round(spread, 9)

    if comb(n, k) <= EXHAUSTIVE_LIMIT:
        best: tuple[int, ...] = tuple(range(k))
        best_score = score(best)
        for subset in combinations(range(n), k):
            s = score(subset)
            if s > best_score:
                best, best_score = subset, s
        return list(best)
    chosen = [0]
    while len(chosen) < k:
        rest = [i for i in range(n) if i not in chosen]
        chosen.append(max(rest, key=lambda i: (score(chosen + [i]), -i)))
    return sorted(chosen)


def _user_text(row: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in row["messages"] if m["role"] == "user")


def _assistant(row: dict[str, Any], which: int) -> str:
    return [m["content"] for m in row["messages"] if m["role"] == "assistant"][which]


def cap_openers(rows: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    """At most ``k`` rows per (scenario, first assistant reply), chosen by :func:`most_different`;
    row order kept. The scenario is the part of ``id`` before ``#``."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault((row["id"].split("#")[0], _assistant(row, 0)), []).append(i)
    keep: set[int] = set()
    for members in groups.values():
        picked = most_different([_user_text(rows[i]) for i in members],
                                [_assistant(rows[i], -1) for i in members], k)
        keep.update(members[p] for p in picked)
    return [row for i, row in enumerate(rows) if i in keep]
