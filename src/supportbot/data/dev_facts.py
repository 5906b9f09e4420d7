"""``data/dev_key_facts.jsonl``: key facts and the answerable flag of every dev conversation, by dev id.

Written by ``python -m supportbot.data build`` from the dev scenarios' ``key_facts``/``answerable`` in
``data/authoring``; kept beside ``dev.jsonl`` (not inside it) so the committed dev.jsonl stays as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..jsonl import JsonlError, iter_jsonl
from ..paths import DATA_DIR
from .build import DEV_FACTS_NAME
from .issues import ROW, DataError, Issue, loc_to_field, pydantic_problems
from .schema import DevFacts

DEV_FACTS_PATH = DATA_DIR / DEV_FACTS_NAME


def _rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise DataError([Issue(str(path), 0, ROW, "file not found: run `python -m supportbot.data build`")])
    try:
        return list(iter_jsonl(path))
    except JsonlError as exc:
        raise DataError([Issue(str(path), 0, ROW, str(exc))]) from None


def load_dev_facts(path: Path = DEV_FACTS_PATH) -> dict[str, DevFacts]:
    """Rows by id; every schema problem or repeated id is an issue naming file, line and field."""
    issues: list[Issue] = []
    out: dict[str, DevFacts] = {}
    lines: dict[str, int] = {}
    for line, row in _rows(path):
        try:
            item = DevFacts.model_validate(row)
        except ValidationError as exc:
            issues += [Issue(str(path), line, loc_to_field(loc), p) for loc, p in pydantic_problems(exc)]
            continue
        if item.id in out:
            issues.append(Issue(str(path), line, "id", f"duplicate id {item.id!r} (first on line {lines[item.id]})"))
            continue
        out[item.id], lines[item.id] = item, line
    if issues:
        raise DataError(issues)
    return out


def dev_items(dev_path: Path = DATA_DIR / "dev.jsonl", facts_path: Path = DEV_FACTS_PATH) -> list[dict[str, Any]]:
    """Dev conversations as eval-style rows: the first user turn, the first assistant reply as reference,
    and the key facts and answerable flag from ``facts_path`` (a dev id without them is an error)."""
    facts = load_dev_facts(facts_path)
    rows, issues = [], []
    for line, r in _rows(dev_path):
        msgs = [m for m in r["messages"] if m["role"] != "system"]
        f = facts.get(r["id"])
        if f is None:
            issues.append(Issue(str(dev_path), line, "key_facts", f"no row for id {r['id']!r} in {facts_path}"))
            continue
        rows.append({"id": r["id"], "domain": r["domain"], "messages": [msgs[0]], "reference_answer": msgs[1]["content"],
                     "answerable": f.answerable, "key_facts": list(f.key_facts)})
    if issues:
        raise DataError(issues)
    return rows
