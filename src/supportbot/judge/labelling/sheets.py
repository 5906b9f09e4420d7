"""Blind label sheets: seeded, stratified model answers and control answers (``answers``), and pairs (``pairs``)."""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

from supportbot.jsonl import read_jsonl, write_jsonl
from supportbot.judge.labelling import controls
from supportbot.judge.labelling.annotations import eval_items
from supportbot.paths import RESULTS_DIR

CONTROL_COUNTS = {"reference": 36, "spliced_forbidden": 14, "altered_fact": 10, "escalation": 8}


def item_view(item: dict[str, Any]) -> dict[str, Any]:
    """What an annotator sees of an eval item."""
    return {"item_id": item["id"], "domain": item["domain"], "answerable": item["answerable"],
            "conversation": item["messages"], "reference_answer": item["reference_answer"],
            "key_facts": {str(i): f for i, f in enumerate(item["key_facts"], 1)},
            "forbidden_claims": {str(i): c for i, c in enumerate(item["forbidden_claims"], 1)},
            "kb_refs": [f"data/kb/{k}" for k in item.get("kb_refs") or []]}


def stratified(ids: list[str], items: dict[str, dict], n: int, rng: random.Random) -> list[str]:
    """``n`` ids spread over (domain, answerable) strata in proportion, seeded."""
    strata: dict[tuple, list[str]] = defaultdict(list)
    for i in ids:
        strata[(items[i]["domain"], items[i]["answerable"])].append(i)
    for v in strata.values():
        rng.shuffle(v)
    out: list[str] = []
    while len(out) < min(n, len(ids)):
        for key in sorted(strata, key=str):
            if strata[key] and len(out) < n:
                out.append(strata[key].pop())
    return out


def write_sheets(out_dir: Path, kind: str, rows: list[dict[str, Any]], batch: int) -> list[Path]:
    paths = []
    for k in range(0, len(rows), batch):
        path = out_dir / "sheets" / f"{kind}_{k // batch + 1}.jsonl"
        write_jsonl(path, rows[k:k + batch])
        paths.append(path)
    return paths


def cmd_answers(args: argparse.Namespace) -> int:
    """Blind answer sheets of one part: ``models`` (sampled model answers) or ``controls``."""
    items = eval_items()
    rng = random.Random(f"{args.seed}-{args.part}")
    key: list[dict[str, Any]] = []
    for model in args.models if args.part == "models" else []:
        answers = {r["id"]: r for r in read_jsonl(RESULTS_DIR / "answers" / f"{model}.jsonl")}
        for iid in stratified(sorted(answers), items, args.n_model, rng):
            a = answers[iid]
            key.append({"item_id": iid, "source": f"model:{model}", "answer": a["answer"],
                        "note": f"decoding {json.dumps(a.get('decoding'))}, weights {a.get('model_fingerprint')}"})
    for recipe, n in CONTROL_COUNTS.items() if args.part == "controls" else []:
        pool = sorted(items)
        made = 0
        for iid in stratified(pool, items, len(pool), rng):
            if made >= n:
                break
            if recipe == "reference" and not items[iid]["answerable"]:
                continue  # an unanswerable item's reference is itself an escalation
            c = controls.make(items[iid], recipe, rng)
            if c is not None:
                key.append({"item_id": iid, "source": f"control:{recipe}", "answer": c.answer, "note": c.note})
                made += 1
    rng.shuffle(key)
    for i, row in enumerate(key, 1):
        row["row"] = f"{args.part[0]}{i:03d}"
    write_jsonl(args.out_dir / f"answers_key_{args.part}.jsonl", key)
    sheet = [{"row": r["row"], **item_view(items[r["item_id"]]), "answer": r["answer"]} for r in key]
    paths = write_sheets(args.out_dir, f"answers-{args.part}", sheet, args.batch)
    by = defaultdict(int)
    for r in key:
        by[r["source"]] += 1
    print(f"{len(key)} answers ({dict(by)}) in {len(paths)} sheets under {args.out_dir / 'sheets'}")
    return 0


def cmd_pairs(args: argparse.Namespace) -> int:
    items = eval_items()
    rng = random.Random(args.seed + 1)
    a_name, b_name = args.models
    ans = {m: {r["id"]: r["answer"] for r in read_jsonl(RESULTS_DIR / "answers" / f"{m}.jsonl")} for m in args.models}
    common = sorted(set(ans[a_name]) & set(ans[b_name]))
    key = []
    for iid in stratified(common, items, args.n_pairs, rng):
        key.append({"item_id": iid, "x": (f"model:{a_name}", ans[a_name][iid]), "y": (f"model:{b_name}", ans[b_name][iid])})
    for iid in stratified(sorted(i for i in common if items[i]["answerable"]), items, args.n_control_pairs, rng):
        model = rng.choice(args.models)
        key.append({"item_id": iid, "x": ("control:reference", items[iid]["reference_answer"]), "y": (f"model:{model}", ans[model][iid])})
    rng.shuffle(key)
    rows, sheet = [], []
    for i, k in enumerate(key, 1):
        first, second = (k["x"], k["y"]) if rng.random() < 0.5 else (k["y"], k["x"])
        rows.append({"row": f"p{i:03d}", "item_id": k["item_id"], "source_a": first[0], "source_b": second[0],
                     "answer_a": first[1], "answer_b": second[1]})
        sheet.append({"row": f"p{i:03d}", **item_view(items[k["item_id"]]), "answer_a": first[1], "answer_b": second[1]})
    write_jsonl(args.out_dir / "pairs_key.jsonl", rows)
    paths = write_sheets(args.out_dir, "pairs", sheet, args.batch)
    print(f"{len(rows)} pairs in {len(paths)} sheets under {args.out_dir / 'sheets'}")
    return 0
