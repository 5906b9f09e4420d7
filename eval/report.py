#!/usr/bin/env python
"""Collect the pipeline's results into results/summary.{json,csv,md} and plots.

    python eval/report.py [--results-dir results] [--run-dir outputs/smollm2-135m-lora-cpu]

Reads what the stages wrote (judge_summary.json, calibration.json, reference_check.json,
lm_eval.json, pipeline_timing.json, bench_*.json, the training run's run_manifest.json, which is
copied to <results>/training_manifest.json so that the committed results carry it) and writes:
  summary.json  every headline number, with the file and command it came from
  summary.csv   the same numbers, one metric per row
  summary.md    the Markdown tables the README embeds (scripts/update_readme.py)
  plots/*.png   win rate with CI, hallucination rates with CIs, loss curves, stage times
  examples.md   before/after examples chosen by the fixed rule in eval/examples.py
A result file that is missing is reported as missing (in summary.json and on stderr), never
silently left out.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from eval.examples import write_examples
from eval.report_arms import arms_section, arms_table, plot_arms
from eval.report_bench import BENCH_SECTIONS, BENCH_TABLES
from eval.report_format import load_json
from eval.report_judge import SECTIONS as JUDGE_SECTIONS
from eval.report_judge import TABLES as JUDGE_TABLES
from eval.report_judge import judge_plots
from eval.report_plots import plot_loss, plot_timing
from eval.report_targets import targets_section, targets_table
from supportbot.cli_errors import cli_main
from supportbot.paths import DEFAULT_RUN_DIR, RESULTS_DIR
from supportbot.stages import last_seconds

ROOT = Path(__file__).resolve().parents[1]



def pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f} %"


def ci(lo: float | None, hi: float | None) -> str:
    return "" if lo is None or hi is None else f"[{100 * lo:.1f}, {100 * hi:.1f}]"


def training_section(manifest: dict[str, Any]) -> dict[str, Any]:
    keys = ("run_name", "base_model", "adapter", "global_steps", "epochs", "precision", "tokens_trained", "tokens_per_s",
            "steady_tokens_per_s", "train_runtime_s", "wall_time_s", "peak_rss_gb", "final_eval_loss", "final_train_loss",
            "mean_train_loss", "hardware", "cost")
    out = {k: manifest.get(k) for k in keys}
    curve = manifest.get("eval_loss_curve") or []
    out["initial_eval_loss"] = curve[0][1] if curve else None
    return out


def training_table(t: dict[str, Any]) -> str:
    hw = t.get("hardware") or {}
    device = hw.get("gpu_name") or f"{hw.get('cpu_cores')} CPU cores"
    cost = (t.get("cost") or {}).get("usd")
    flags = ", ".join(hw.get("cpu_bf16_flags") or []) or "no native bf16"
    cpu = f"{hw.get('cpu_model')} ({flags})" if not hw.get("gpu_name") else hw["gpu_name"]
    rows = [
        ("Base model", t["base_model"]), ("Method", "LoRA" if t.get("adapter") else "full fine-tuning"),
        ("Hardware", f"{device}, {cpu}"), ("Precision", t.get("precision") or "n/a"),
        ("Optimizer steps / epochs", f"{t['global_steps']} / {t['epochs']:.2f}"),
        ("Tokens trained (non-padding)", f"{t['tokens_trained']:,}"),
        ("Throughput", f"{t['tokens_per_s']:.0f} tokens/s"),
        ("Train runtime / wall time", f"{t['train_runtime_s']:.0f} s / {t['wall_time_s']:.0f} s"),
        ("Peak RAM", f"{t['peak_rss_gb']:.2f} GB"),
        ("Train loss (last logged)", f"{t['final_train_loss']:.3f}" if t.get("final_train_loss") is not None else "n/a"),
        ("Dev loss before → after", f"{t['initial_eval_loss']:.3f} → {t['final_eval_loss']:.3f}"
         if t.get("initial_eval_loss") is not None else f"→ {t['final_eval_loss']:.3f}"),
        ("Estimated cost", f"${cost:.4f} ({(t.get('cost') or {}).get('basis', '')})" if cost is not None else "n/a"),
    ]
    return "| Training | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)


BEHAVIOUR_ROWS = (("loop_rate", "Loops (distinct 6-gram share < 0.7)"), ("max_tokens_rate", "Stopped at max_tokens"),
                  ("escalation_rate_unanswerable", "Escalates on unanswerable items"),
                  ("clarify_rate", "Asks a question where the reference does"), ("question_rate", "Asks a question (any item)"),
                  ("key_fact_recall_product", "Key-fact recall, product items"), ("key_fact_recall_it", "Key-fact recall, IT items"))


def behaviour_section(data: dict[str, Any]) -> dict[str, Any]:
    """``behaviour.<model>.<metric>`` point estimates (key_fact_recall split by domain), CIs and paired differences."""
    out: dict[str, Any] = {}
    for model, metrics in data["models"].items():
        out[model] = {k: v["estimate"] for k, v in metrics.items() if isinstance(v, dict) and "estimate" in v}
        out[model]["key_fact_recall"] = {"product": metrics["key_fact_recall_product"]["estimate"],
                                         "it": metrics["key_fact_recall_it"]["estimate"]}
    out["ci"] = {m: {k: v for k, v in metrics.items() if k != "key_fact_recall"} for m, metrics in data["models"].items()}
    out["differences"] = data["differences"]
    out["detectors"] = data.get("detectors")
    out["command"] = data.get("command")
    return out


def behaviour_table(b: dict[str, Any]) -> str:
    models = list(b["ci"])
    diff_key = next(iter(b["differences"]), None)
    head = "| Behaviour (judge-free, 100 eval items) | " + " | ".join(models) + (f" | {diff_key.replace('_', ' ')} (paired 95 % CI) |" if diff_key else " |")
    lines = [head, "|---" * (len(models) + 1 + bool(diff_key)) + "|"]
    for key, label in BEHAVIOUR_ROWS:
        cells = []
        for m in models:
            c = b["ci"][m][key]
            cells.append("n/a" if c["estimate"] is None else f"{100 * c['estimate']:.1f} % [{100 * c['ci_low']:.1f}, {100 * c['ci_high']:.1f}] (n={c['n']})")
        row = f"| {label} | " + " | ".join(cells)
        if diff_key:
            d = b["differences"][diff_key][key]
            row += " | " + ("n/a" if d["estimate"] is None else f"{100 * d['estimate']:+.1f} pts [{100 * d['ci_low']:+.1f}, {100 * d['ci_high']:+.1f}]")
        lines.append(row + " |")
    return "\n".join(lines)


def retrieval_section(d: dict[str, Any]) -> dict[str, Any]:
    """The retriever in use (the committed _kb arms') and the one recommended on dev, each on dev and eval
    (tools/measure_retrieval.py); ``recall_at_3``/``hit_at_3``/``mrr`` are the recommended one's on eval."""
    out: dict[str, Any] = {"selection_rule": d.get("selection_rule"), "definitions": d.get("definitions"),
                           "target": d.get("target"), "command": d.get("command")}
    for role in ("in_use", "recommended"):
        r = d.get(role) or {}
        out[role] = {"label": r.get("label"), "why": r.get("why"),
                     **{s: {k: r[s][k] for k in ("n", "recall@3", "hit@3", "hit@3_ci95", "mrr", "command")}
                        for s in ("dev", "eval") if s in r}}
    ev = out["recommended"].get("eval") or {}
    out |= {"recall_at_3": ev.get("recall@3"), "hit_at_3": ev.get("hit@3"), "mrr": ev.get("mrr")}
    return out


def retrieval_table(r: dict[str, Any]) -> str:
    lines = ["| Retriever | Split (queries) | recall@3 | hit@3 [95 % CI] | MRR | Command |", "|---|---|---|---|---|---|"]
    for role, name in (("in_use", "in use (committed _kb arms)"), ("recommended", "recommended (chosen on dev)")):
        s = r[role]
        for split in ("dev", "eval"):
            if split in s:
                m = s[split]
                lines.append(f"| {name}: {s['label']} | {split} ({m['n']}) | {m['recall@3']:.3f} | {m['hit@3']:.3f} "
                             f"{m['hit@3_ci95']} | {m['mrr']:.3f} | `{m['command']}` |")
    return "\n".join(lines) + f"\n\nSelection rule: {r['selection_rule']}."


def lm_eval_table(lm: dict[str, Any]) -> str:
    lines = ["| Model | Reference bits/byte (lower is better) | n |", "|---|---|---|"]
    for name, r in lm["models"].items():
        se = r.get("stderr")  # lm-eval reports "N/A" for corpus-level metrics such as bits_per_byte
        err = f" ± {se:.3f}" if isinstance(se, int | float) and se else ""
        lines.append(f"| {name} | {r['bits_per_byte']:.3f}{err} | {r['n']} |")
    return "\n".join(lines)


def timing_table(timing: dict[str, Any]) -> str:
    lines = ["| Stage | Status | Seconds (when it last ran) |", "|---|---|---|"]
    for s in timing["stages"]:
        secs = last_seconds(s)
        when = s.get("finished_at")
        status = s["status"] + (f" (up to date; ran {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(when))})"
                                if s["status"] == "skipped" and isinstance(when, int | float) else "")
        lines.append(f"| {s['stage']} | {status} | {'n/a' if secs is None else f'{secs:.0f}'} |")
    full = timing.get("full_run_seconds", timing["wall_seconds"])
    cached = " — judge answered from its cache" if timing.get("judge_from_cache") else ""
    lines.append(f"| **whole pipeline (sum of stages){cached}** | | **{full:.0f}** ({full / 60:.1f} min) |")
    lines.append(f"| wall time of the last invocation | | {timing['wall_seconds']:.0f} |")
    if timing.get("judge_from_cache"):
        lines += ["", "The judge stage made no judge calls in its last run (every judgment was in the cache), so this sum "
                  "is not the cost of a fresh run; `results/pipeline_cold_run.txt` has the stage times of the run from "
                  "empty caches."]
    return "\n".join(lines)


# section name -> (result file in the results folder, function turning it into the summary entry)
SECTIONS: dict[str, tuple[str, Any]] = {
    "training": ("training_manifest.json", training_section),
    "lm_eval": ("lm_eval.json", lambda d: d),
    "behaviour": ("behaviour.json", behaviour_section),
    "retrieval": ("retrieval.json", retrieval_section),
    "pipeline_timing": ("pipeline_timing.json", lambda d: d),
    **JUDGE_SECTIONS,
    **BENCH_SECTIONS,
}
# README order; the fresh-clone check sits next to the stage times it repeats on a clean checkout
TABLES: dict[str, Any] = {"targets": targets_table, "training": training_table, "behaviour": behaviour_table,
                          "lm_eval": lm_eval_table, "retrieval": retrieval_table, "arms": arms_table, "pipeline_timing": timing_table,
                          "fresh_clone": BENCH_TABLES["fresh_clone"], **JUDGE_TABLES, **BENCH_TABLES}


def render_tables(summary: dict[str, Any]) -> dict[str, str]:
    """Markdown table per section present in ``summary`` (the README embeds exactly these)."""
    return {name: TABLES[name](summary[name]) for name in TABLES if name in summary}


def flatten(prefix: str, obj: Any, rows: list[tuple[str, Any]]) -> None:
    """``{"a": {"b": 1}}`` -> ``[("a.b", 1)]`` for the CSV (lists of numbers are skipped)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            flatten(f"{prefix}.{k}" if prefix else str(k), v, rows)
    elif isinstance(obj, (int, float, str, bool)) or obj is None:
        rows.append((prefix, obj))


@cli_main  # unreadable/bad input files: "error: file: problem", rc 2 (supportbot.cli_errors)
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR, help="the Axolotl output_dir of the training run")
    args = parser.parse_args(argv)
    res: Path = args.results_dir
    plots = res / "plots"
    plots.mkdir(parents=True, exist_ok=True)

    run_manifest = args.run_dir / "run_manifest.json"
    if run_manifest.is_file():
        shutil.copyfile(run_manifest, res / "training_manifest.json")
    summary: dict[str, Any] = {"missing": []}
    for name, (filename, extract) in SECTIONS.items():
        data = load_json(res / filename)
        if data is None:
            summary["missing"].append(filename)
            print(f"warning: {res / filename} is missing; the {name} section is left out", file=sys.stderr)
            continue
        summary[name] = extract(data)
    usage = summary.get("judge_usage") or {}
    if "pipeline_timing" in summary:
        summary["pipeline_timing"]["judge_from_cache"] = usage.get("calls") == 0 and usage.get("cache_hits", 0) > 0
    arms = arms_section(res)
    if arms:  # base, tuned and the retrieval arms, each against base (eval/report_arms.py)
        summary["arms"] = arms
    summary["targets"] = targets_section(summary)
    tables = render_tables(summary)
    if "training" in summary:
        plot_loss(load_json(res / "training_manifest.json"), plots / "loss.png")
    if "pipeline_timing" in summary:
        plot_timing(summary["pipeline_timing"], plots / "stage_times.png")
    judge_plots(summary, plots)
    if arms:
        plot_arms(arms, plots / "arms.png")

    (res / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    rows: list[tuple[str, Any]] = []
    flatten("", {k: v for k, v in summary.items() if k != "missing"}, rows)
    with (res / "summary.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["metric", "value"])
        w.writerows(rows)
    md = ["# supportbot results", "", "Generated by `python eval/report.py` from the files in this folder.", ""]
    for name, table in tables.items():
        md += [f"<!-- table:{name} -->", table, ""]
    if summary["missing"]:
        md += ["Missing result files: " + ", ".join(summary["missing"]), ""]
    (res / "summary.md").write_text("\n".join(md))
    judge_name = (load_json(res / "judge_summary.json") or {}).get("judge")
    if judge_name:
        write_examples(res, judge_name)
    print(f"wrote {res / 'summary.json'}, summary.csv, summary.md and {plots}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
