"""`build`: authoring YAML -> data/train.jsonl, data/dev.jsonl, data/eval.jsonl (deterministic)."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

from ..jsonl import write_jsonl
from ..paths import DATA_DIR, load_prompt
from .authoring import eval_row, expand, load_authoring
from .issues import DataError, Issue
from .split import grouped_split

EVAL_COUNT = 100


def build(
    authoring_dir: Path,
    kb_dir: Path,
    out_dir: Path,
    *,
    system_prompt: str,
    dev_fraction: float = 0.1,
    seed: int = 13,
    eval_count: int | None = EVAL_COUNT,
) -> dict[str, list[dict[str, Any]]]:
    """Validate, expand, split and write the three files; return the rows per split."""
    authoring = load_authoring(authoring_dir, kb_dir)
    if eval_count is not None and len(authoring.eval_items) != eval_count:
        raise DataError([Issue(str(authoring_dir), 0, "eval",
                               f"expected exactly {eval_count} eval items in eval_*.yaml, found "
                               f"{len(authoring.eval_items)} (use --allow-any-eval-count for a partial set)")])
    rows_by_scenario: dict[str, list[dict[str, Any]]] = {}
    for loc in authoring.scenarios:
        sc = loc.item
        rows_by_scenario[sc.id] = [
            {"messages": conv, "id": f"{sc.id}#{i}", "domain": sc.domain, "category": sc.category}
            for i, conv in enumerate(expand(sc, system_prompt))
        ]
    groups = [(loc.item.id, loc.item.domain, len(rows_by_scenario[loc.item.id])) for loc in authoring.scenarios]
    dev_ids = grouped_split(groups, dev_fraction=dev_fraction, seed=seed)
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "dev": [], "eval": []}
    for loc in authoring.scenarios:
        splits["dev" if loc.item.id in dev_ids else "train"] += rows_by_scenario[loc.item.id]
    splits["eval"] = [eval_row(loc.item) for loc in authoring.eval_items]
    for name, rows in splits.items():
        write_jsonl(out_dir / f"{name}.jsonl", rows)
    return splits


def summary(splits: dict[str, list[dict[str, Any]]]) -> str:
    """Counts per split and domain, and the multi-turn fraction."""
    lines = []
    for name, rows in splits.items():
        domains = Counter(r["domain"] for r in rows)
        users = [sum(m["role"] == "user" for m in r["messages"]) for r in rows]
        multi = sum(u > 1 for u in users) if name != "eval" else sum(len(r["messages"]) > 1 for r in rows)
        frac = multi / len(rows) if rows else 0.0
        dom = ", ".join(f"{d} {n}" for d, n in sorted(domains.items()))
        extra = ""
        if name == "eval":
            extra = f", unanswerable {sum(not r['answerable'] for r in rows)}"
        lines.append(f"{name}: {len(rows)} rows ({dom}); multi-turn {multi} ({frac:.1%}){extra}")
    return "\n".join(lines)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build",
        help="expand data/authoring/*.yaml into train/dev/eval JSONL",
        description="Read every data/authoring/*.yaml (eval_*.yaml = eval items, others = training "
        "scenarios), validate them (errors as file:line: field: problem), expand each scenario's openers "
        "into conversations with the system prompt prompts/support_system.txt, split train/dev by "
        "scenario (seeded, stratified by domain) and write train.jsonl, dev.jsonl and eval.jsonl.",
    )
    p.add_argument("--authoring-dir", type=Path, default=DATA_DIR / "authoring")
    p.add_argument("--kb-dir", type=Path, default=DATA_DIR / "kb", help="folder of KB files named in kb_refs")
    p.add_argument("--out-dir", type=Path, default=DATA_DIR)
    p.add_argument("--dev-fraction", type=float, default=0.1, help="share of conversations for dev (default 0.1)")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--allow-any-eval-count", action="store_true",
                   help=f"accept a number of eval items other than {EVAL_COUNT} (partial authoring set)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    splits = build(
        args.authoring_dir, args.kb_dir, args.out_dir,
        system_prompt=load_prompt("support_system"),
        dev_fraction=args.dev_fraction, seed=args.seed,
        eval_count=None if args.allow_any_eval_count else EVAL_COUNT,
    )
    print(summary(splits))
    print(f"wrote {', '.join(str(args.out_dir / f'{n}.jsonl') for n in splits)}")
    return 0
