"""RAFT-style training rows (Zhang et al. 2024): KB passages in each row's system prompt, the oracle for a share P.

Every row's system prompt becomes what the ``_kb`` arms send at answer time: ``KbPrompter.render`` of the
support system prompt and k passages of the same retriever (:class:`supportbot.kb_prompt.KbPrompter`, same
method, chunking and template). The retrieval query is the conversation up to the trained answer (every turn
but the system prompt and the last assistant turn), i.e. what the arm retrieves with before writing it.
Each row is one of three kinds:

- ``oracle`` (a share ``p`` of the rows that have an oracle, seeded): the oracle chunk
  (:mod:`supportbot.data.oracle`) is among the k passages. When the retriever already ranks it in its top k
  the passages are exactly the answer-time ones; otherwise the oracle takes a seeded random position among
  the top k-1 distractors (the retriever's results that are not the oracle, in rank order).
- ``distractors`` (the other rows with an oracle): the retriever's top k without the oracle, so the answer's
  facts must come from the weights.
- ``retrieved`` (IT rows, and product rows whose answer declines, i.e. unanswerable): the retriever's top k
  unchanged, as at answer time (often nothing relevant: the model learns to ignore it).

Answers are never changed: unanswerable scenarios keep their escalation answer. Passages stay in rank order
and are numbered ``[1]..[k]`` as at answer time (no shuffle: matching answer time comes first; only an
inserted oracle's position is random, so the model cannot learn "the answer is always in passage 1").
"""

from __future__ import annotations

import copy
import random
from dataclasses import asdict, dataclass
from typing import Any

from .. import behaviour as bh
from ..kb_prompt import DEFAULT_K, KbPrompter
from ..retrieval import DEFAULT_MAX_CHARS, Passage
from .authoring import Located
from .issues import DataError, Issue
from .oracle import OracleFinder

KINDS = ("oracle", "distractors", "retrieved")


@dataclass(frozen=True)
class RaftConfig:
    """``p``: share of the rows with an oracle that get it; ``k``: passages per row (the ``_kb`` arms' k, so
    k - 1 distractors beside an oracle); ``max_chars``: the retriever's chunk length; ``seed``: row choice."""

    p: float = 0.8
    k: int = DEFAULT_K
    max_chars: int = DEFAULT_MAX_CHARS
    seed: int = 13

    def __post_init__(self) -> None:
        if not 0.0 <= self.p <= 1.0:
            raise DataError([Issue("--raft-p", 0, "option", f"must be between 0 and 1, got {self.p}")])
        if self.k < 1:
            raise DataError([Issue("--raft-k", 0, "option", f"must be at least 1, got {self.k}")])
        if self.max_chars < 50:
            raise DataError([Issue("--raft-max-chars", 0, "option", f"must be at least 50, got {self.max_chars}")])


@dataclass(frozen=True)
class RowPassages:
    """What one RAFT row got: its kind, its oracle chunk id (None without one) and its passages' chunk ids."""

    id: str
    kind: str
    oracle: str | None
    passages: tuple[str, ...]
    oracle_retrieved: bool  # the retriever's own top k held the oracle


def _unanswerable(scenario: Any, answer: str) -> bool:
    return scenario.answerable is False or bh.declines(answer)


def _numbered(passages: list[Passage]) -> list[Passage]:
    return [Passage(p.chunk, p.score, rank) for rank, p in enumerate(passages, start=1)]


def _oracle_passages(wide: list[Passage], oracle_id: str, k: int, rng: random.Random) -> list[Passage]:
    top = wide[:k]
    if any(p.chunk.id == oracle_id for p in top):
        return top
    oracle = next(p for p in wide if p.chunk.id == oracle_id)
    rest = [p for p in wide if p.chunk.id != oracle_id][: k - 1]
    rest.insert(rng.randrange(len(rest) + 1), oracle)
    return _numbered(rest)


def _with_oracle(prompter: KbPrompter, finder: OracleFinder, oracle_id: str, history: list[dict[str, str]],
                 k: int) -> list[Passage]:
    """The retriever's top k + 1 plus, when missing, the oracle itself (score 0, never rendered)."""
    wider = copy.copy(prompter)
    wider.k = k + 1  # the same retriever and settings, asked for one more result
    wide = wider.retrieve(history)
    if not any(p.chunk.id == oracle_id for p in wide):
        chunk = next(c for c in finder.chunks if c.id == oracle_id)
        wide.append(Passage(chunk, 0.0, len(wide) + 1))
    return wide


def raft_rows(rows: list[dict[str, Any]], scenarios: dict[str, Located], prompter: KbPrompter,
              config: RaftConfig) -> tuple[list[dict[str, Any]], list[RowPassages]]:
    """The rows with passages in their system prompts, and what each got (same order as ``rows``)."""
    finder = OracleFinder(prompter.index.chunks)
    k = prompter.k
    oracles: dict[int, str] = {}
    issues: list[Issue] = []
    for i, row in enumerate(rows):
        loc = scenarios[row["id"].split("#")[0]]
        answer = row["messages"][-1]["content"]
        if row["domain"] == "it" or not loc.item.kb_refs or _unanswerable(loc.item, answer):
            continue
        chunk = finder.find(answer, loc.item.kb_refs)
        if chunk is None:
            issues.append(Issue(loc.file, loc.line, "kb_refs", f"{row['id']}: no chunk of "
                                f"{', '.join(loc.item.kb_refs)} shares a content word with the answer"))
        else:
            oracles[i] = chunk.id
    if issues:
        raise DataError(issues)
    chosen = set(random.Random(config.seed).sample(sorted(oracles), round(config.p * len(oracles))))
    out: list[dict[str, Any]] = []
    info: list[RowPassages] = []
    for i, row in enumerate(rows):
        system, *turns = row["messages"]
        if system["role"] != "system":
            raise DataError([Issue(row["id"], 0, "messages[0].role", "a RAFT row needs the system prompt first")])
        history = turns[:-1]
        oracle_id = oracles.get(i)
        if oracle_id is None:
            kind, passages = "retrieved", prompter.retrieve(history)
            retrieved = False
        else:
            wide = _with_oracle(prompter, finder, oracle_id, history, k)
            retrieved = any(p.chunk.id == oracle_id for p in wide[:k])
            if i in chosen:
                rng = random.Random(f"{config.seed}:{row['id']}")
                kind, passages = "oracle", _oracle_passages(wide, oracle_id, k, rng)
            else:
                kind, passages = "distractors", _numbered([p for p in wide if p.chunk.id != oracle_id][:k])
        content = prompter.render(system["content"], passages)
        out.append({**row, "messages": [{"role": "system", "content": content}, *turns]})
        info.append(RowPassages(row["id"], kind, oracle_id, tuple(p.chunk.id for p in passages), retrieved))
    return out, info


def manifest_entry(config: RaftConfig, prompter: KbPrompter, info: list[RowPassages]) -> dict[str, Any]:
    """The ``raft`` block of a variant's manifest: the config, the retriever's settings and the counts."""
    counts = {kind: sum(r.kind == kind for r in info) for kind in KINDS}
    with_oracle = counts["oracle"] + counts["distractors"]
    return {
        **asdict(config),
        "distractors_beside_oracle": config.k - 1,
        "oracle_rule": "highest cosine of idf-weighted content-word sets (answer vs chunk) among the chunks of "
                       "the scenario's kb_refs files (supportbot.data.oracle)",
        "order": "rank order as at answer time; an oracle the retriever missed takes a seeded random position",
        "retriever": prompter.settings,
        "rows": counts,
        "oracle_share_of_rows": round(counts["oracle"] / max(len(info), 1), 4),
        "oracle_share_of_rows_with_oracle": round(counts["oracle"] / max(with_oracle, 1), 4),
        "oracle_in_retrievers_top_k": sum(r.oracle_retrieved for r in info),
    }
