"""File-aware ranking on top of :class:`supportbot.retrieval.KbIndex`: which KB *files* the top-k passages come from.

    ranker = FileRanker(KbIndex.build(), strategy="knn")   # or "plain" (the index's own order), "diverse"
    passages = ranker.search("my SR-300 shows a solid red light", k=3)

Strategies (:data:`STRATEGIES`):

* ``plain``: the index's chunk ranking as is (what the committed ``_kb`` arms were answered with);
* ``diverse``: file-diverse top-k: the best chunk of each file, files in the order of their best chunk, so
  the top k come from k different files whenever k files have a chunk (then the remaining chunks, in order);
* ``knn``: like ``diverse``, but the file order is reciprocal-rank fusion (RRF, k=60) of the chunk ranking's
  file order and a file prior from the training questions: the ``knn_m`` training scenarios whose opener
  (first user turn) is closest to the query (MiniLM cosine; a scenario counts once, by its closest opener)
  vote for their scenario's ``kb_refs``, each vote weighted ``exp(cosine / KNN_TEMPERATURE)``;
* ``prior``: like ``knn``, but the files the prior names come first (in its order), then the others in the
  chunk ranking's order.

The memory holds ``data/train.jsonl`` only (dev and eval scenarios are never in it); ``exclude_scenario``
leaves a scenario's own openers out when the query is itself a training row (RAFT-style training data).
This is supervised file routing (kNN over labelled questions), not a text match: it can only name files
that training scenarios cite for similar questions.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from supportbot.jsonl import iter_jsonl
from supportbot.paths import DATA_DIR, KB_DIR
from supportbot.retrieval import RRF_K, KbIndex, Passage, RetrievalError, _encode

STRATEGIES = ("plain", "diverse", "knn", "prior")
KNN_STRATEGIES = ("knn", "prior")  # the ones that need a QueryMemory
DEFAULT_STRATEGY = "plain"  # the committed _kb arms' ranking; results/retrieval.json names the recommended one
DEFAULT_KNN_M = 20
KNN_TEMPERATURE = 0.05  # vote weight exp(cos / T): a closer scenario outweighs many far ones
TRAIN_PATH = DATA_DIR / "train.jsonl"
AUTHORING_DIR = DATA_DIR / "authoring"


def diverse_order(passages: list[Passage]) -> list[Passage]:
    """The best chunk of each file (files in the order of their best chunk), then every other chunk in order."""
    return file_order([p.chunk.source for p in passages], passages)


def file_order(files: list[str], passages: list[Passage]) -> list[Passage]:
    """The best-ranked chunk of each file in ``files`` order, then the other chunks in their order; re-ranked."""
    best: dict[str, Passage] = {}
    for p in passages:
        best.setdefault(p.chunk.source, p)
    head = [best[f] for f in dict.fromkeys(files) if f in best]
    ids = {p.chunk.id for p in head}
    rest = [p for p in passages if p.chunk.id not in ids]
    return [replace(p, rank=r) for r, p in enumerate(head + rest, start=1)]


def rrf_files(*orders: list[str]) -> list[str]:
    """Reciprocal-rank fusion of file orders (a file missing from an order gets no share of it); ties: first order."""
    score: dict[str, float] = defaultdict(float)
    for order in orders:
        for r, f in enumerate(order, start=1):
            score[f] += 1.0 / (RRF_K + r)
    first = {f: i for i, f in enumerate(orders[0])} if orders else {}
    return sorted(score, key=lambda f: (-score[f], first.get(f, len(first))))


@dataclass
class QueryMemory:
    """Training questions (first user turns) with the kb_refs files of their scenario, embedded with MiniLM."""

    scenarios: list[str]
    files: list[tuple[str, ...]]
    embeddings: np.ndarray
    sha256: str  # of the training rows and kb_refs used: recorded in the retrieval settings

    @classmethod
    def build(cls, train_path: Path = TRAIN_PATH, authoring_dir: Path = AUTHORING_DIR,
              kb_dir: Path = KB_DIR) -> QueryMemory:
        """Rows of ``train_path`` whose scenario (``id`` = ``<scenario>#<n>``) has kb_refs in ``authoring_dir``."""
        from supportbot.data.authoring import load_authoring

        refs = {loc.item.id: tuple(loc.item.kb_refs) for loc in load_authoring(authoring_dir, kb_dir).scenarios}
        scenarios, files, texts = [], [], []
        for line, row in iter_jsonl(train_path):
            sid = str(row.get("id", "")).split("#")[0]
            if sid not in refs:
                raise RetrievalError(f"{train_path}:{line}: id: scenario {sid!r} is not in {authoring_dir}")
            user = next((m.get("content") for m in row.get("messages") or [] if m.get("role") == "user"), None)
            if refs[sid] and isinstance(user, str) and user.strip():
                scenarios.append(sid)
                files.append(refs[sid])
                texts.append(user)
        if not texts:
            raise RetrievalError(f"{train_path}: no training row of a scenario with kb_refs")
        sha = hashlib.sha256(json.dumps([scenarios, files, texts]).encode("utf-8")).hexdigest()
        return cls(scenarios, files, _encode(texts), sha)

    def votes(self, query: str, m: int = DEFAULT_KNN_M, exclude_scenario: str | None = None) -> list[str]:
        """Files by similarity-weighted votes of the ``m`` nearest scenarios (their nearest row each), best first."""
        return self.votes_for(_encode([query])[0], m, exclude_scenario)

    def votes_for(self, vec: np.ndarray, m: int = DEFAULT_KNN_M, exclude_scenario: str | None = None) -> list[str]:
        """:meth:`votes` for an already embedded (unit-length) query vector."""
        sim = self.embeddings @ vec
        score: dict[str, float] = defaultdict(float)
        seen: set[str] = set()
        for j in np.argsort(-sim, kind="stable"):
            sid = self.scenarios[j]
            if sid in seen or sid == exclude_scenario:
                continue
            seen.add(sid)
            for f in self.files[j]:
                score[f] += float(np.exp((sim[j] - 1.0) / KNN_TEMPERATURE))
            if len(seen) >= m:
                break
        return sorted(score, key=lambda f: -score[f])


class FileRanker:
    """A :class:`KbIndex` searched with one of :data:`STRATEGIES` (``knn`` and ``prior`` use a :class:`QueryMemory`,
    built from the default training data when none is given)."""

    def __init__(self, index: KbIndex, strategy: str = DEFAULT_STRATEGY, memory: QueryMemory | None = None,
                 knn_m: int = DEFAULT_KNN_M) -> None:
        if strategy not in STRATEGIES:
            raise RetrievalError(f"unknown ranking strategy {strategy!r} (known: {', '.join(STRATEGIES)})")
        if knn_m < 1:
            raise RetrievalError(f"knn_m must be at least 1, got {knn_m}")
        if strategy in KNN_STRATEGIES and memory is None:
            memory = QueryMemory.build()
        self.index, self.strategy, self.memory, self.knn_m = index, strategy, memory, knn_m

    @property
    def settings(self) -> dict[str, object]:
        """What a result or answer row records beyond the index's own settings."""
        out: dict[str, object] = {"strategy": self.strategy}
        if self.strategy in KNN_STRATEGIES and self.memory is not None:
            out |= {"knn_m": self.knn_m, "knn_temperature": KNN_TEMPERATURE, "memory_sha256": self.memory.sha256}
        return out

    def search(self, query: str, k: int = 5, exclude_scenario: str | None = None) -> list[Passage]:
        """The ``k`` best chunks for ``query`` under this strategy, best first."""
        if self.strategy == "plain":
            return self.index.search(query, k)
        if k < 1:
            raise RetrievalError(f"k must be at least 1, got {k}")
        ranked = self.index.search(query, len(self.index.chunks))
        if self.strategy == "diverse" or self.memory is None:  # (a knn strategy always has a memory)
            return diverse_order(ranked)[:k]
        chunk_files = list(dict.fromkeys(p.chunk.source for p in ranked))
        prior = self.memory.votes(query, self.knn_m, exclude_scenario)
        order = rrf_files(chunk_files, prior) if self.strategy == "knn" else prior + chunk_files
        return file_order(order, ranked)[:k]
