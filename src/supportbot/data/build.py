"""`build`: authoring YAML -> data/train.jsonl, data/dev.jsonl, data/eval.jsonl (deterministic)."""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

from ..jsonl import write_jsonl
from ..kb_prompt import DEFAULT_K, KbPrompter
from ..paths import DATA_DIR, load_prompt
from ..retrieval import DEFAULT_MAX_CHARS
from .authoring import Authoring, eval_row, expand, load_authoring
from .issues import DataError, Issue
from .raft import RaftConfig, RowPassages, manifest_entry, raft_rows
from .split import grouped_split
from .variants import VARIANTS, cap_openers, expand_fixed

EVAL_COUNT = 100
DEV_FACTS_NAME = "dev_key_facts.jsonl"
CAP_RULE = ("per scenario and first assistant reply, keep the conversations covering the most distinct final "
            "answers, then the largest sum of pairwise token-set Jaccard distances of the user turns; ties: earliest")


def _split(authoring: Authoring, system_prompt: str, dev_fraction: float,
           seed: int) -> tuple[dict[str, list[dict[str, Any]]], set[str]]:
    """Default rows per scenario and the dev scenario ids (the split is always made on the default
    expansion, so every variant keeps the same dev scenarios out of training)."""
    rows_by_scenario: dict[str, list[dict[str, Any]]] = {}
    for loc in authoring.scenarios:
        sc = loc.item
        rows_by_scenario[sc.id] = [
            {"messages": conv, "id": f"{sc.id}#{i}", "domain": sc.domain, "category": sc.category}
            for i, conv in enumerate(expand(sc, system_prompt))
        ]
    groups = [(loc.item.id, loc.item.domain, len(rows_by_scenario[loc.item.id])) for loc in authoring.scenarios]
    return rows_by_scenario, grouped_split(groups, dev_fraction=dev_fraction, seed=seed)


def dev_facts(authoring: Authoring, dev_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``dev_key_facts.jsonl`` rows (one per dev conversation, the scenario's ``answerable`` and
    ``key_facts``); a dev scenario without them is an error naming its file and line."""
    by_id = {loc.item.id: loc for loc in authoring.scenarios}
    issues: list[Issue] = []
    for sid in sorted({r["id"].split("#")[0] for r in dev_rows}):
        loc = by_id[sid]
        for field, missing in (("key_facts", not loc.item.key_facts), ("answerable", loc.item.answerable is None)):
            if missing:
                issues.append(Issue(loc.file, loc.line, field, f"dev scenario {sid!r} needs `{field}` "
                                    "(its first reply is scored by key-fact recall on dev)"))
    if issues:
        raise DataError(issues)
    out = []
    for row in dev_rows:
        sc = by_id[row["id"].split("#")[0]].item
        out.append({"id": row["id"], "answerable": sc.answerable, "key_facts": [f.strip() for f in sc.key_facts]})
    return out


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
    """Validate, expand, split and write train/dev/eval and dev_key_facts.jsonl; return the rows per split."""
    authoring = load_authoring(authoring_dir, kb_dir)
    if eval_count is not None and len(authoring.eval_items) != eval_count:
        raise DataError([Issue(str(authoring_dir), 0, "eval",
                               f"expected exactly {eval_count} eval items in eval_*.yaml, found "
                               f"{len(authoring.eval_items)} (use --allow-any-eval-count for a partial set)")])
    rows_by_scenario, dev_ids = _split(authoring, system_prompt, dev_fraction, seed)
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "dev": [], "eval": []}
    for loc in authoring.scenarios:
        splits["dev" if loc.item.id in dev_ids else "train"] += rows_by_scenario[loc.item.id]
    splits["eval"] = [eval_row(loc.item) for loc in authoring.eval_items]
    facts = dev_facts(authoring, splits["dev"])
    for name, rows in splits.items():
        write_jsonl(out_dir / f"{name}.jsonl", rows)
    write_jsonl(out_dir / DEV_FACTS_NAME, facts)
    return splits


def build_train_variant(
    authoring_dir: Path,
    kb_dir: Path,
    out_path: Path,
    *,
    system_prompt: str,
    variant: str = "today",
    max_openers: int | None = None,
    dev_fraction: float = 0.1,
    seed: int = 13,
    raft: RaftConfig | None = None,
    raft_details: list[RowPassages] | None = None,
) -> list[dict[str, Any]]:
    """Write only the training split of ``variant`` (``today`` or ``fixed``), capped to ``max_openers``
    conversations per scenario and first reply, with KB passages RAFT-style when ``raft`` is given
    (:mod:`supportbot.data.raft`), to ``out_path``, with a ``.manifest.json`` beside it. ``raft_details``: a
    list that receives what each RAFT row got (kind, oracle, passage ids), for checks."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    authoring = load_authoring(authoring_dir, kb_dir)
    rows_by_scenario, dev_ids = _split(authoring, system_prompt, dev_fraction, seed)
    rows: list[dict[str, Any]] = []
    for loc in authoring.scenarios:
        sc = loc.item
        if sc.id in dev_ids:
            continue
        if variant == "today":
            rows += rows_by_scenario[sc.id]
        else:
            rows += [{"messages": conv, "id": sc.id + suffix, "domain": sc.domain, "category": sc.category}
                     for suffix, conv in expand_fixed(sc, system_prompt)]
    if max_openers is not None:
        rows = cap_openers(rows, max_openers)
    raft_block = None
    if raft is not None:
        prompter = KbPrompter.build(kb_dir, k=raft.k, max_chars=raft.max_chars)
        rows, info = raft_rows(rows, {loc.item.id: loc for loc in authoring.scenarios}, prompter, raft)
        raft_block = manifest_entry(raft, prompter, info)
        if raft_details is not None:
            raft_details.extend(info)
    write_jsonl(out_path, rows)
    manifest = {"variant": variant, "max_openers": max_openers, "cap_rule": CAP_RULE if max_openers else None,
                "dev_fraction": dev_fraction, "seed": seed, "rows": len(rows),
                "scenarios": len({r["id"].split("#")[0] for r in rows}),
                "sha256": hashlib.sha256(out_path.read_bytes()).hexdigest()}
    if raft_block is not None:
        manifest["raft"] = raft_block
    out_path.with_suffix(".manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return rows


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
        "scenario (seeded, stratified by domain) and write train.jsonl, dev.jsonl, eval.jsonl and dev_key_facts.jsonl "
        "(the dev scenarios' key facts, by dev id). With --train-out, write only a training variant instead: "
        "--variant fixed (revised answers, direct-answer openers) and/or --max-openers K (opener cap), same dev split, "
        "and with --raft-p P KB passages in every system prompt, RAFT-style (oracle passage for a share P of the "
        "rows that have one, distractors only for the rest; see supportbot.data.raft).",
    )
    p.add_argument("--authoring-dir", type=Path, default=DATA_DIR / "authoring")
    p.add_argument("--kb-dir", type=Path, default=DATA_DIR / "kb", help="folder of KB files named in kb_refs")
    p.add_argument("--out-dir", type=Path, default=DATA_DIR)
    p.add_argument("--dev-fraction", type=float, default=0.1, help="share of conversations for dev (default 0.1)")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--allow-any-eval-count", action="store_true",
                   help=f"accept a number of eval items other than {EVAL_COUNT} (partial authoring set)")
    p.add_argument("--train-out", type=Path,
                   help="write only the training split of --variant/--max-openers to this file (and a "
                   ".manifest.json beside it); dev/eval and the default files are not touched")
    p.add_argument("--variant", choices=VARIANTS, default="today",
                   help="today: the default expansion; fixed: revised answers and the direct-answer openers "
                   "of clarifying replies (needs --train-out)")
    p.add_argument("--max-openers", type=int, metavar="K",
                   help="keep at most K conversations per scenario and first reply, the most different "
                   "paraphrases (needs --train-out)")
    p.add_argument("--raft-p", type=float, metavar="P",
                   help="RAFT-style passages (needs --train-out): every row's system prompt gets k KB passages "
                   "from the _kb arms' retriever and template (prompts/support_kb.txt); a seeded share P of the "
                   "product rows that have an oracle (the chunk of their kb_refs files that best matches the "
                   "answer) get it among them, the rest only distractors; IT and unanswerable rows get the "
                   "retriever's top k; answers unchanged (e.g. 0.8)")
    p.add_argument("--raft-k", type=int, default=DEFAULT_K, metavar="K",
                   help=f"passages per RAFT row, i.e. K-1 distractors beside an oracle (default {DEFAULT_K}, the _kb arms' k)")
    p.add_argument("--raft-max-chars", type=int, default=DEFAULT_MAX_CHARS, metavar="N",
                   help=f"chunk length of the retriever's index for RAFT rows (default {DEFAULT_MAX_CHARS}, the _kb arms')")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.max_openers is not None and args.max_openers < 1:
        raise DataError([Issue("--max-openers", 0, "option", f"must be at least 1, got {args.max_openers}")])
    raft = None
    if args.raft_p is not None:
        raft = RaftConfig(p=args.raft_p, k=args.raft_k, max_chars=args.raft_max_chars, seed=args.seed)
    if args.train_out is not None:
        rows = build_train_variant(args.authoring_dir, args.kb_dir, args.train_out,
                                   system_prompt=load_prompt("support_system"), variant=args.variant,
                                   max_openers=args.max_openers, dev_fraction=args.dev_fraction, seed=args.seed,
                                   raft=raft)
        print(summary({"train": rows}))
        print(f"wrote {args.train_out} and {args.train_out.with_suffix('.manifest.json')}")
        return 0
    if args.variant != "today" or args.max_openers is not None or raft is not None:
        raise DataError([Issue("--train-out", 0, "option", "--variant fixed, --max-openers and --raft-p need --train-out "
                               "(the default build writes the committed train/dev/eval files unchanged)")])
    splits = build(
        args.authoring_dir, args.kb_dir, args.out_dir,
        system_prompt=load_prompt("support_system"),
        dev_fraction=args.dev_fraction, seed=args.seed,
        eval_count=None if args.allow_any_eval_count else EVAL_COUNT,
    )
    print(summary(splits))
    print(f"wrote {', '.join(str(args.out_dir / f'{n}.jsonl') for n in [*splits, 'dev_key_facts'])}")
    return 0
