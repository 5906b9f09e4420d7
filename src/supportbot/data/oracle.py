"""The oracle passage of a training answer: the KB chunk, from the scenario's ``kb_refs`` files, that holds it.

Rule (simple, deterministic, no model): the answer and each chunk (heading path and text) are sets of
content words (:func:`supportbot.behaviour.content_words`: stemmed, stop words dropped, versions and numbers
kept), weighted by inverse document frequency (``log(N / df)`` over all N chunks of the KB); a chunk's score
is the cosine of the two weighted sets. The oracle is the highest-scoring chunk of the ``kb_refs`` files;
ties go to the earlier chunk (index order: KB file name, then position in the file). Rare words (a version,
a price, a heading's topic) decide; the cosine's length normalisation keeps a long chunk that shares many
common words (a big table) from beating the short section the answer is about (plain summed idf picked a
different chunk for 39 of the 289 answerable product rows of ``train_fixed_raft``, mostly the worse one).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from ..behaviour import content_words
from ..retrieval import Chunk


class OracleFinder:
    """Maps an answer and its ``kb_refs`` to the chunk that best matches it (see the module doc)."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.chunks = list(chunks)
        self._words = [content_words(c.indexed_text()) for c in self.chunks]
        df = Counter(w for ws in self._words for w in ws)
        n = len(self.chunks)
        self.idf = {w: math.log(n / d) for w, d in df.items()}
        self._norms = [self._norm(ws) for ws in self._words]

    def _norm(self, words: set[str]) -> float:
        return math.sqrt(sum(self.idf.get(w, 0.0) ** 2 for w in words))

    def score(self, answer: str, chunk_index: int) -> float:
        """Cosine of the idf-weighted content-word sets of ``answer`` and chunk ``chunk_index`` (0 to 1)."""
        words = content_words(answer)
        dot = sum(self.idf[w] ** 2 for w in words & self._words[chunk_index])
        norm = self._norm(words) * self._norms[chunk_index]
        return dot / norm if norm else 0.0

    def find(self, answer: str, kb_refs: Sequence[str]) -> Chunk | None:
        """The best chunk of the ``kb_refs`` files for ``answer``; None when none shares a weighted word."""
        refs = set(kb_refs)
        best, best_score = None, 0.0
        for i, chunk in enumerate(self.chunks):
            if chunk.source in refs:
                s = self.score(answer, i)
                if s > best_score + 1e-12:
                    best, best_score = chunk, s
        return best
