#!/usr/bin/env python
"""Judge-free behaviour metrics of answer files, with bootstrap CIs and paired differences.

    python eval/behaviour.py                                  # results/answers/{base,tuned}.jsonl -> results/behaviour.json
    python eval/behaviour.py --answers base=a.jsonl --answers tuned=b.jsonl --out out.json

Per model, over the items of the eval file (every item must have an answer; a missing one is an
error, never silently dropped): loop_rate, max_tokens_rate, escalation_rate_unanswerable (items
with ``answerable: false``), clarify_rate (asks a question where the reference answer does),
question_rate (asks a question at all), key_fact_recall (mean per-item share of key facts stated,
split by domain). The first model is the reference of the paired differences (item-level
bootstrap, 2000 resamples, seed 0). Detectors: src/supportbot/behaviour.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from supportbot import behaviour as bh
from supportbot import records
from supportbot.cli_args import positive_int
from supportbot.cli_errors import CliError, cli_main
from supportbot.jsonl import iter_jsonl
from supportbot.paths import DATA_DIR, RESULTS_DIR
from supportbot.stats import bootstrap_ci, paired_bootstrap_diff

ROOT = Path(__file__).resolve().parents[1]

# per-item metrics (item_values gives None where an item does not count for one; it is left out of that mean)
METRICS = ("loop_rate", "max_tokens_rate", "escalation_rate_unanswerable", "clarify_rate", "question_rate",
           "key_fact_recall_product", "key_fact_recall_it")


def item_values(item: dict[str, Any], answer: dict[str, Any]) -> dict[str, float | None]:
    """Each metric's value on one item (None where the item does not count for it)."""
    b = bh.measure(answer["answer"], finish_reason=answer.get("finish_reason"),
                   key_facts=item.get("key_facts") if item.get("answerable", True) else None)
    ref_asks = bh.asks_question(item.get("reference_answer") or "")
    recall = b.key_fact_recall
    return {
        "loop_rate": float(b.loops),
        "max_tokens_rate": float(b.hit_max_tokens),
        "escalation_rate_unanswerable": None if item.get("answerable", True) else float(b.escalates),
        "clarify_rate": float(b.asks_question) if ref_asks else None,
        "question_rate": float(b.asks_question),
        "key_fact_recall_product": recall if item.get("domain") == "product" else None,
        "key_fact_recall_it": recall if item.get("domain") == "it" else None,
    }


def summarize(items: list[dict[str, Any]], answers: dict[str, dict[Any, dict[str, Any]]], *,
              n_resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """``{"models": {name: {metric: ci}}, "differences": {name_vs_first: {metric: paired ci}}, "rows": [...]}``."""
    names = list(answers)
    for name, rows in answers.items():
        missing = [it["id"] for it in items if it["id"] not in rows]
        if missing:
            raise CliError(f"{name}: no answer for {len(missing)} eval item(s), e.g. {missing[:3]}")
    values = {name: [item_values(it, answers[name][str(it["id"])]) for it in items] for name in names}
    models: dict[str, Any] = {}
    for name in names:
        models[name] = {}
        for metric in METRICS:
            vals = [v[metric] for v in values[name] if v[metric] is not None]
            models[name][metric] = bootstrap_ci(vals, n_resamples=n_resamples, seed=seed)
        models[name]["key_fact_recall"] = {"product": models[name]["key_fact_recall_product"],
                                           "it": models[name]["key_fact_recall_it"]}
    diffs: dict[str, Any] = {}
    ref = names[0]
    for name in names[1:]:
        diffs[f"{name}_minus_{ref}"] = {}
        for metric in METRICS:
            keep = [i for i, v in enumerate(values[ref]) if v[metric] is not None]
            a = [values[name][i][metric] for i in keep]
            b = [values[ref][i][metric] for i in keep]
            diffs[f"{name}_minus_{ref}"][metric] = paired_bootstrap_diff(a, b, n_resamples=n_resamples, seed=seed)
    rows = [{"id": it["id"], **{name: values[name][i] for name in names}} for i, it in enumerate(items)]
    return {"models": models, "differences": diffs, "rows": rows, "n_items": len(items),
            "detectors": {"loop": f"unique word {bh.LOOP_NGRAM}-gram share < {bh.LOOP_THRESHOLD}",
                          "key_fact": f">= {bh.FACT_THRESHOLD:.0%} of the fact's content words in the answer",
                          "escalation": "declines (no information / cannot confirm) or offers a human (escalate, agent, tier 2, ticket)",
                          "clarify": "asks a question (a sentence ending in '?') where the reference answer does"}}


def parse_named(values: list[str]) -> dict[str, Path]:
    out = {}
    for v in values:
        name, sep, path = v.partition("=")
        if not sep or not name or not path:
            raise CliError(f"--answers must look like NAME=PATH, got {v!r}")
        out[name] = Path(path)
    return out


@cli_main  # unreadable/bad input files: "error: file: problem", rc 2 (supportbot.cli_errors)
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--answers", action="append", metavar="NAME=PATH",
                   help="answer file of one model (repeat; the first is the reference; default: base and tuned in results/answers/)")
    p.add_argument("--eval", type=Path, default=DATA_DIR / "eval.jsonl", help="eval file (default: %(default)s)")
    p.add_argument("--limit", type=positive_int, help="first N eval items only")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "behaviour.json", help="output JSON (default: %(default)s)")
    args = p.parse_args(argv)
    named = parse_named(args.answers) if args.answers else {m: RESULTS_DIR / "answers" / f"{m}.jsonl" for m in ("base", "tuned")}
    items = [row for _, row in iter_jsonl(args.eval)][: args.limit]
    answers = {}
    for name, path in named.items():
        if not path.is_file():
            raise CliError(f"{path}: answer file not found")
        answers[name] = records.answer_rows(path)
    result = summarize(items, answers)
    result["command"] = "python eval/behaviour.py " + " ".join(argv if argv is not None else sys.argv[1:])
    result["answers"] = {k: str(v) for k, v in named.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for name, m in result["models"].items():
        print(name + ": " + ", ".join(f"{k} {m[k]['estimate']:.3f}" if m[k]["estimate"] is not None else f"{k} n/a"
                                     for k in METRICS))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
