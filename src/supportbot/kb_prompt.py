"""Retrieval-augmented prompts: the support system prompt plus the KB passages retrieved for a conversation.

    kb = KbPrompter.build()                          # hybrid index over data/kb/, top 3 passages
    system, used = kb.system_prompt(support_system, item.messages)

The template is ``prompts/support_kb.txt``: ``{system}`` is the support system prompt, ``{passages}`` the
numbered passages (source file and heading path, then the chunk text), quoted between ``<kb>`` markers and
introduced as reference data, not instructions (a passage that contains a marker has it defused). The
query is every turn of the conversation (the measured best mode, results/retrieval.json). Every answer row
records :attr:`KbPrompter.settings` and the passages used, so a resumed run never mixes retrieval settings.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supportbot.paths import load_prompt, repo_relative
from supportbot.retrieval import DEFAULT_MAX_CHARS, DEFAULT_METHOD, KB_DIR, KbIndex, Passage, RetrievalError

if TYPE_CHECKING:
    from supportbot.retrieval_files import FileRanker

KB_PROMPT_NAME = "support_kb"
DEFAULT_K = 3  # recall@3 is what results/retrieval.json measures
QUERY_MODE = "all"

QUERY_MODES = ("last", "users", "all")  # last user message / every user turn / every turn


def conversation_query(messages: list[dict[str, str]], mode: str = "all") -> str:
    """The retrieval query for a conversation: the last user message, every user turn, or every turn."""
    if mode not in QUERY_MODES:
        raise RetrievalError(f"unknown query mode {mode!r} (known: {', '.join(QUERY_MODES)})")
    turns = [m for m in messages if mode == "all" or m.get("role") == "user"]
    if mode == "last":
        turns = turns[-1:]
    return "\n".join(str(m.get("content") or "") for m in turns)


@dataclass(frozen=True)
class UsedPassage:
    """A passage as an answer row records it."""
    rank: int
    id: str
    source: str
    heading: str
    score: float

    @classmethod
    def of(cls, p: Passage) -> UsedPassage:
        return cls(p.rank, p.chunk.id, p.chunk.source, p.chunk.heading, round(p.score, 6))


def _defuse(text: str) -> str:
    return text.replace("<kb>", "<kb >").replace("</kb>", "</kb >")


def format_passages(passages: list[Passage]) -> str:
    """``[1] sr-300-router.md > ... > Defaults`` then the chunk text, one block per passage."""
    return "\n\n".join(f"[{p.rank}] {_defuse(p.chunk.heading)}\n{_defuse(p.chunk.text)}" for p in passages)


class KbPrompter:
    """Retrieves passages for a conversation and writes them into the support system prompt."""

    def __init__(self, index: KbIndex, *, k: int = DEFAULT_K, kb_dir: Path = KB_DIR, max_chars: int = DEFAULT_MAX_CHARS,
                 prompt_name: str = KB_PROMPT_NAME, ranker: FileRanker | None = None) -> None:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self.index, self.k, self.prompt_name, self.ranker = index, k, prompt_name, ranker
        self.template = load_prompt(prompt_name)
        for field in ("{system}", "{passages}"):
            if field not in self.template:
                raise ValueError(f"prompts/{prompt_name}.txt: the template has no {field} field")
        self.settings: dict[str, Any] = {
            "method": index.method, "k": k, "max_chars": max_chars, "query": QUERY_MODE,
            "kb_dir": repo_relative(kb_dir), "index_key": index.key, "prompt": prompt_name,
            "prompt_sha256": hashlib.sha256(self.template.encode("utf-8")).hexdigest()}
        if ranker is not None and ranker.strategy != "plain":  # the default's settings stay as the committed rows have them
            self.settings |= ranker.settings

    @classmethod
    def build(cls, kb_dir: Path = KB_DIR, *, method: str = DEFAULT_METHOD, k: int = DEFAULT_K,
              max_chars: int = DEFAULT_MAX_CHARS, prompt_name: str = KB_PROMPT_NAME, strategy: str = "plain",
              knn_m: int | None = None) -> KbPrompter:
        """Index ``kb_dir`` (or load the cached index) and read the template; ``strategy``: how the ranked chunks
        become the top k (:data:`supportbot.retrieval_files.STRATEGIES`; ``plain`` is the committed arms')."""
        from supportbot.retrieval_files import DEFAULT_KNN_M, FileRanker

        index = KbIndex.build(kb_dir, method=method, max_chars=max_chars)
        ranker = FileRanker(index, strategy, knn_m=knn_m or DEFAULT_KNN_M)
        return cls(index, k=k, kb_dir=kb_dir, max_chars=max_chars, prompt_name=prompt_name, ranker=ranker)

    def retrieve(self, messages: list[dict[str, str]], exclude_scenario: str | None = None) -> list[Passage]:
        """The top k passages for a conversation (``exclude_scenario``: a training row's own scenario, which
        the ``knn`` strategy's memory must not vote for itself)."""
        query = conversation_query(messages, QUERY_MODE)
        if self.ranker is None:
            return self.index.search(query, k=self.k)
        return self.ranker.search(query, k=self.k, exclude_scenario=exclude_scenario)

    def render(self, system: str, passages: list[Passage]) -> str:
        return self.template.replace("{system}", system.strip()).replace("{passages}", format_passages(passages))

    def system_prompt(self, system: str, messages: list[dict[str, str]]) -> tuple[str, list[UsedPassage]]:
        """The system prompt with this conversation's passages, and the passages used."""
        passages = self.retrieve(messages)
        return self.render(system, passages), [UsedPassage.of(p) for p in passages]
