"""Reading a label-set folder: eval items, answer keys, stale rows and validated annotations."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from supportbot.jsonl import read_jsonl
from supportbot.judge.labelling.label_rows import validate
from supportbot.paths import DATA_DIR


def eval_items() -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in read_jsonl(DATA_DIR / "eval.jsonl")}


def load_answer_keys(out_dir: Path) -> dict[str, dict[str, Any]]:
    """row id -> key row, over every part's key file."""
    return {r["row"]: r for path in sorted(out_dir.glob("answers_key_*.jsonl")) for r in read_jsonl(path)}


def stale_rows(out_dir: Path, items: dict[str, dict[str, Any]]) -> set[str]:
    """Rows whose eval item's key facts or forbidden claims changed after the sheet was made (labels no longer fit)."""
    out = set()
    for path in sorted((out_dir / "sheets").glob("*.jsonl")):
        for r in read_jsonl(path):
            it = items.get(r["item_id"])
            if it is None or list(r["key_facts"].values()) != it["key_facts"] \
                    or list(r["forbidden_claims"].values()) != it["forbidden_claims"]:
                out.add(r["row"])
    return out


def load_annotations(out_dir: Path, kind: str) -> dict[str, dict[str, dict[str, Any]]]:
    """annotator -> row id -> annotation, validated (file:line: field: problem on a bad row)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for ann_dir in sorted((out_dir / "annotations").glob("*")):
        if not ann_dir.is_dir() or ann_dir.name == "adjudication":
            continue
        rows: dict[str, dict[str, Any]] = {}
        for path in sorted(ann_dir.glob(f"{kind}*.jsonl")):
            for n, r in enumerate(read_jsonl(path), 1):
                validate(r, kind, f"{path}:{n}")
                rows[str(r["row"])] = r
        if rows:
            out[ann_dir.name] = rows
    return out


def doubly_annotated(data: dict[str, dict[str, dict[str, Any]]]) -> dict[str, tuple[dict, dict]]:
    """row id -> its first two annotations (annotators in folder order), for rows labelled at least twice."""
    by_row: dict[str, list[dict]] = defaultdict(list)
    for rows in data.values():
        for r, ann in rows.items():
            by_row[r].append(ann)
    return {r: (a[0], a[1]) for r, a in sorted(by_row.items()) if len(a) >= 2}
