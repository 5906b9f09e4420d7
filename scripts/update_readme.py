#!/usr/bin/env python
"""Write the README's Evaluation tables from results/summary.json (never by hand).

    python scripts/update_readme.py            # rewrite the block between the table markers
    python scripts/update_readme.py --check    # exit 1 when README.md and the results disagree

The block between `<!-- tables:start -->` and `<!-- tables:end -->` in README.md is replaced by the
tables that `eval/report.py` renders from `results/summary.json` (the same function writes
results/summary.md), so the README cannot drift from the committed results: a test runs --check.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eval.report import render_tables

ROOT = Path(__file__).resolve().parents[1]

START, END = "<!-- tables:start -->", "<!-- tables:end -->"
HEADINGS = {
    "targets": "Baselines & Targets (targets in eval/targets.yaml; baseline = the base model, measured)",
    "pairwise": "Pairwise win rate (tuned vs base, LLM judge)",
    "hallucination": "Hallucination rate (LLM judge, raw and corrected for judge error)",
    "calibration": "Default judge's agreement with the labels (label set v2, AI annotators)",
    "judges": "Judges compared on the same labels (`python judge/run.py compare`)",
    "reference_check": "Judge-free reference check (sentence embeddings)",
    "behaviour": "Judge-free behaviour (`python eval/behaviour.py`; detectors in src/supportbot/behaviour.py)",
    "lm_eval": "lm-eval: reference-answer bits per byte",
    "retrieval": "Retrieval over the knowledge base (`python tools/measure_retrieval.py`)",
    "arms": "Fine-tune, retrieve, or both: four arms, same judge, each against base (`python scripts/run_pipeline.py`; "
            "eval/report_arms.py)",
    "training": "Training cost and time",
    "throughput": "Generation throughput (`python tools/bench_generate.py`)",
    "serve_memory": "Serving base and tuned at once (`python tools/bench_serve_memory.py`)",
    "train_bench": "Training throughput: Axolotl vs a plain PEFT loop, fp32 and bf16",
    "vllm_bind": "vLLM-CPU thread binding",
    "generate_modes": "How the generate stage serves vLLM on CPU",
    "pipeline_timing": "Pipeline stage times",
    "fresh_clone": "The README's main command on a fresh clone",
}


def render_block(summary: dict, source: str = "results/summary.json") -> str:
    """The README block (markers included) for ``summary``."""
    tables = render_tables(summary)
    parts = [START, f"_Generated from `{source}` by `python scripts/update_readme.py`; do not edit by hand._", ""]
    for name, table in tables.items():
        parts += [f"**{HEADINGS.get(name, name)}**", "", table, ""]
    if summary.get("missing"):
        parts += ["Not in this run: " + ", ".join(f"`{m}`" for m in summary["missing"]), ""]
    parts.append(END)
    return "\n".join(parts)


def replace_block(readme: str, block: str) -> str:
    """README text with the marked block replaced; a missing marker is an error."""
    if START not in readme or END not in readme:
        raise SystemExit(f"README.md has no {START} ... {END} block")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return head + block + tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--summary", type=Path, default=ROOT / "results" / "summary.json")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when they differ")
    args = parser.parse_args(argv)
    if not args.summary.is_file():
        raise SystemExit(f"{args.summary} not found: run the pipeline (python scripts/run_pipeline.py) first")
    summary = json.loads(args.summary.read_text())
    readme = args.readme.read_text()
    updated = replace_block(readme, render_block(summary))
    if args.check:
        if updated != readme:
            print(f"{args.readme} tables differ from {args.summary}: run `python scripts/update_readme.py`", file=sys.stderr)
            return 1
        print("README tables match the results")
        return 0
    args.readme.write_text(updated)
    print(f"updated the tables in {args.readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
