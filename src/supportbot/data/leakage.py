"""`leakage`: word n-gram overlap between eval items and training data (near-duplicate check)."""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cli_args import positive_int, share
from ..jsonl import read_jsonl
from ..paths import DATA_DIR
from .authoring import normalize


@dataclass(frozen=True)
class Pair:
    score: float
    eval_id: str
    train_id: str
    eval_text: str
    train_text: str

    def __str__(self) -> str:
        return (f"{self.score:.3f}  {self.eval_id} <-> {self.train_id}\n"
                f"        eval : {self.eval_text[:100]!r}\n        train: {self.train_text[:100]!r}")


def ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def closest_pairs(
    queries: list[tuple[str, str]], corpus: list[tuple[str, str]], *, n: int, top: int = 10
) -> list[Pair]:
    """For each query text, the corpus text containing the largest share of its word n-grams.

    Score = |ngrams(query) & ngrams(corpus text)| / |ngrams(query)| (containment). A query shorter
    than ``n`` words uses its own length as ``n``. Returns the ``top`` best pairs, highest first.
    """
    corpus_words = [normalize(t).split() for _, t in corpus]
    index: dict[int, dict[tuple[str, ...], set[int]]] = {}

    def index_for(k: int) -> dict[tuple[str, ...], set[int]]:
        if k not in index:
            idx: dict[tuple[str, ...], set[int]] = defaultdict(set)
            for j, words in enumerate(corpus_words):
                for g in ngrams(words, k):
                    idx[g].add(j)
            index[k] = idx
        return index[k]

    best: list[Pair] = []
    for qid, qtext in queries:
        words = normalize(qtext).split()
        if not words:
            continue
        k = min(n, len(words))
        grams = ngrams(words, k)
        hits: dict[int, int] = defaultdict(int)
        idx = index_for(k)
        for g in grams:
            for j in idx.get(g, ()):
                hits[j] += 1
        if hits:
            j, h = max(hits.items(), key=lambda kv: (kv[1], -kv[0]))
            best.append(Pair(h / len(grams), qid, corpus[j][0], qtext, corpus[j][1]))
    best.sort(key=lambda p: (-p.score, p.eval_id, p.train_id))
    return best[:top]


def turns(rows: list[dict[str, Any]], role: str) -> list[tuple[str, str]]:
    """``(row id, content)`` of every message with ``role``."""
    return [(str(r.get("id", i)), m["content"]) for i, r in enumerate(rows) for m in r["messages"] if m["role"] == role]


def check(
    train_rows: list[dict[str, Any]], eval_rows: list[dict[str, Any]], *, n: int
) -> tuple[list[Pair], list[Pair]]:
    """Closest (eval user turn, training user turn) and (reference answer, training assistant turn) pairs."""
    questions = closest_pairs(turns(eval_rows, "user"), turns(train_rows, "user"), n=n)
    answers = closest_pairs([(str(r["id"]), r["reference_answer"]) for r in eval_rows],
                            turns(train_rows, "assistant"), n=n)
    return questions, answers


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "leakage",
        help="n-gram overlap between eval items and training data; exit 1 above the threshold",
        description="Normalise texts (lowercase, punctuation stripped, whitespace collapsed) and compute, "
        "for each eval user turn, the share of its word n-grams found in the closest training user turn; "
        "likewise each eval reference answer against training assistant turns (looser threshold). "
        "Prints the 10 closest pairs of each and exits 1 when any score exceeds its threshold.",
    )
    p.add_argument("--train", nargs="+", type=Path, default=[DATA_DIR / "train.jsonl", DATA_DIR / "dev.jsonl"])
    p.add_argument("--eval", type=Path, default=DATA_DIR / "eval.jsonl")
    p.add_argument("--n", type=positive_int, default=8, help="n-gram length in words (default 8)")
    p.add_argument("--threshold", type=share, default=0.5, help="max allowed question overlap (default 0.5)")
    p.add_argument("--answer-threshold", type=share, default=0.8,
                   help="max allowed reference-answer overlap with a training answer (default 0.8)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    train_rows = [r for path in args.train for r in read_jsonl(path)]
    eval_rows = read_jsonl(args.eval)
    questions, answers = check(train_rows, eval_rows, n=args.n)
    failed = False
    for title, pairs, limit in (("eval user turns vs training user turns", questions, args.threshold),
                                ("eval reference answers vs training assistant turns", answers, args.answer_threshold)):
        print(f"{title} ({args.n}-gram containment, threshold {limit}):")
        for pair in pairs:
            print(f"  {pair}")
        if not pairs:
            print(f"  no pair shares a {args.n}-gram")
        over = [p for p in pairs if p.score > limit]
        if over:
            failed = True
            print(f"  LEAK: {len(over)} pair(s) above {limit}")
    print("leakage check " + ("FAILED" if failed else "passed"))
    return 1 if failed else 0
