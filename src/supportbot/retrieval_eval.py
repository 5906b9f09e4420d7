"""Queries with known KB files (kb_refs) for measuring retrieval, and the file-level metrics (tools/measure_retrieval.py).

* eval: ``data/eval.jsonl`` items with ``kb_refs`` (the conversation up to the question);
* dev: the dev conversations as the dev screen asks them (:func:`supportbot.data.dev_facts.dev_items`: the
  first user turn), each with the ``kb_refs`` its scenario was authored with in ``data/authoring`` (written
  with the scenario's reference answer, before any retrieval was measured); IT scenarios have none.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supportbot.jsonl import JsonlError, iter_jsonl
from supportbot.kb_prompt import QUERY_MODES, conversation_query
from supportbot.paths import DATA_DIR, KB_DIR
from supportbot.retrieval import RetrievalError

KS = (1, 3, 5)


@dataclass(frozen=True)
class EvalQuery:
    id: str
    domain: str
    category: str
    answerable: bool
    kb_refs: tuple[str, ...]
    query: str


def _check_refs(refs: Any, where: str, kb_dir: Path) -> list[str]:
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        raise RetrievalError(f"{where}: kb_refs: expected a list of KB file names")
    for ref in refs:
        if Path(ref).name != ref or not (Path(kb_dir) / ref).is_file():
            raise RetrievalError(f"{where}: kb_refs: KB file not found: {Path(kb_dir) / ref}")
    return refs


def _query(row: dict[str, Any], where: str, mode: str, refs: list[str]) -> EvalQuery:
    msgs = row.get("messages")
    if not isinstance(msgs, list) or not all(isinstance(m, dict) for m in msgs):
        raise RetrievalError(f"{where}: messages: expected a list of {{role, content}} objects")
    query = conversation_query(msgs, mode)
    if not query.strip():
        raise RetrievalError(f"{where}: messages: no user message to use as the query")
    return EvalQuery(str(row.get("id")), str(row.get("domain")), str(row.get("category")),
                     bool(row.get("answerable", True)), tuple(refs), query)


def load_eval_queries(path: Path, kb_dir: Path = KB_DIR, mode: str = "last") -> list[EvalQuery]:
    """The eval items that have ``kb_refs``, each with its query (``mode``: one of :data:`QUERY_MODES`).
    A kb_ref that is not a file of ``kb_dir`` raises :class:`RetrievalError` naming ``file:line``."""
    if mode not in QUERY_MODES:
        raise RetrievalError(f"unknown query mode {mode!r} (known: {', '.join(QUERY_MODES)})")
    out: list[EvalQuery] = []
    try:
        rows = list(iter_jsonl(path))
    except (JsonlError, OSError) as exc:
        raise RetrievalError(str(exc)) from None
    for line, row in rows:
        where = f"{path}:{line}"
        refs = _check_refs(row.get("kb_refs") or [], where, kb_dir)
        if refs:
            out.append(_query(row, where, mode, refs))
    return out


def load_dev_queries(dev_path: Path = DATA_DIR / "dev.jsonl", authoring_dir: Path = DATA_DIR / "authoring",
                     kb_dir: Path = KB_DIR, mode: str = "last") -> list[EvalQuery]:
    """The dev rows (first user turn, as the dev screen asks them) whose scenario has kb_refs in ``authoring_dir``."""
    from supportbot.data.authoring import load_authoring
    from supportbot.data.dev_facts import DEV_FACTS_PATH, dev_items

    if mode not in QUERY_MODES:
        raise RetrievalError(f"unknown query mode {mode!r} (known: {', '.join(QUERY_MODES)})")
    scenarios = {loc.item.id: loc for loc in load_authoring(authoring_dir, kb_dir).scenarios}
    out: list[EvalQuery] = []
    for row in dev_items(dev_path, DEV_FACTS_PATH):
        loc = scenarios.get(row["id"].split("#")[0])
        if loc is None:
            raise RetrievalError(f"{dev_path}: id {row['id']!r}: its scenario is not in {authoring_dir}")
        refs = _check_refs(list(loc.item.kb_refs), f"{loc.file}:{loc.line}", kb_dir)
        if refs:
            out.append(_query({**row, "category": loc.item.category}, f"{dev_path}: id {row['id']}", mode, refs))
    return out


def score_ranking(sources: list[str], refs: tuple[str, ...], ks: tuple[int, ...] = KS) -> dict[str, float]:
    """Metrics of one ranked list of chunk files against an item's kb_refs (see ``definitions`` in the result)."""
    want = set(refs)
    first = next((i for i, s in enumerate(sources, start=1) if s in want), None)
    out: dict[str, float] = {}
    files = list(dict.fromkeys(sources))  # files in the order of their best chunk
    for k in ks:
        found = want & set(sources[:k])
        out[f"hit@{k}"] = float(bool(found))
        out[f"recall@{k}"] = len(found) / len(want)
        out[f"file_recall@{k}"] = len(want & set(files[:k])) / len(want)
    out["rr"] = 1.0 / first if first else 0.0
    return out


def aggregate(rows: list[dict[str, float]]) -> dict[str, Any]:
    """Means over items (``rr`` -> ``mrr``), rounded, with the item count."""
    keys = [k for k in rows[0] if k != "id"] if rows else []
    out: dict[str, Any] = {"n": len(rows)}
    for k in keys:
        out["mrr" if k == "rr" else k] = round(sum(r[k] for r in rows) / len(rows), 4)
    return out
