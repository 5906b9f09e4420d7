#!/usr/bin/env python
"""One table of every candidate judge on the same labels, and the choice of the CPU default.

    python judge/run.py compare           # -> results/judge_comparison.{json,md}

Reads the test-split agreement files that
`judge/run.py agreement` wrote (results/judgments/{checklist,holistic}-calibration-<judge>-test.json)
and what judging the main run (both models' answers to the 100 eval items, 200 answers) costs each
judge: measured side by side by tools/bench_judges.py (results/bench_judges.json) where that
benchmark has the judge, else estimated from the calibration run's seconds per call and the calls
the main run needs (checklist: every check of every item, twice; holistic: one hallucination call
per answer and two orders per pair). The default is the judge with the best agreement (mean of
hallucination and pairwise kappa) among those within the budget (15 min for 200 answers on the
2-core CPU default).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from supportbot.cli_errors import cli_main
from supportbot.judge.graders.registry import GRADERS
from supportbot.judge.inputs import load_eval_items
from supportbot.paths import DATA_DIR, RESULTS_DIR, repo_relative
from supportbot.records import EvalItem

_HERE = Path(__file__).resolve().parent

BUDGET_S = 15 * 60  # 200 answers


def main_run_calls(items: list[EvalItem], mode: str) -> int:
    """Judge calls for both models' answers to every item (no cache), as the judge kind's grader counts them."""
    return GRADERS[mode]().main_run_calls(items)


def row(res: dict[str, Any], items: list[EvalItem], path: Path, bench: dict[str, dict[str, Any]]) -> dict[str, Any]:
    h, p, c = res.get("hallucination") or {}, res.get("pairwise") or {}, res.get("checklist") or {}
    s_call = res.get("s_per_check") or res.get("s_per_call")
    calls = main_run_calls(items, res["judge_mode"])
    kappas = [k for k in (h.get("kappa"), p.get("kappa")) if k is not None]
    b = bench.get(res["judge"]) or {}
    return {"judge": res["judge"], "mode": res["judge_mode"], "model": res["model"], "dtype": res.get("dtype"),
            "check_auc": c.get("auc"), "hallucination_kappa": h.get("kappa"), "hallucination_accuracy": h.get("accuracy"),
            "pairwise_kappa": p.get("kappa"), "pairwise_accuracy": p.get("accuracy"),
            "clear_winner_agreement": p.get("clear_winner_agreement"),
            "n_answers": h.get("n"), "n_pairs": p.get("n"),
            # judgments the calibration used (fresh calls + cache hits) and their recorded request time
            "calls": (res.get("calls") or 0) + (res.get("cache_hits") or 0), "wall_s": res.get("recorded_request_s"),
            "s_per_call": s_call, "main_run_calls": calls, "main_run_answers": 2 * len(items),
            "main_run_estimate_s": round(calls * s_call, 0) if s_call else None,
            "bench_200_answers_s": b.get("estimate_200_answers_s"), "bench_s_per_call": b.get("s_per_call"),
            "mean_kappa": sum(kappas) / len(kappas) if kappas else None,
            "cpu": (res.get("hardware") or {}).get("cpu_model"),
            "cpu_bf16_flags": (res.get("hardware") or {}).get("cpu_bf16_flags"),
            "source": repo_relative(path),
            "command": res.get("command")}


def minutes_200(r: dict[str, Any]) -> float | None:
    """Seconds for 200 answers: the side-by-side benchmark where it has the judge, else the estimate."""
    if r.get("bench_200_answers_s") is not None:
        return r["bench_200_answers_s"]
    return r["main_run_estimate_s"] * 200 / r["main_run_answers"] if r.get("main_run_estimate_s") is not None else None


def choose(rows: list[dict[str, Any]]) -> str | None:
    fits = [r for r in rows if (s := minutes_200(r)) is not None and s <= BUDGET_S and r["mean_kappa"] is not None]
    return max(fits, key=lambda r: r["mean_kappa"])["judge"] if fits else None


def table(rows: list[dict[str, Any]], default: str | None) -> str:
    def f(x: Any, fmt: str = ".2f") -> str:
        return "n/a" if x is None else format(x, fmt)

    lines = ["| Judge | Mode | Model (dtype) | Check AUC | Halluc. κ | Halluc. acc. | Pairwise κ | Pairwise acc. "
             "| Clear-winner agreement | Calibration judgments | Calibration request time (s) | s / call (calibration) "
             "| 200 answers (tools/bench_judges.py) | CPU |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        secs = minutes_200(r)
        est = f"{secs / 60:.1f} min" + ("" if r.get("bench_200_answers_s") is not None else " (est.)") if secs else "n/a"
        name = f"**{r['judge']}** (default)" if r["judge"] == default else r["judge"]
        lines.append(f"| {name} | {r['mode']} | {r['model']} ({r['dtype'] or 'endpoint'}) | {f(r['check_auc'])} | "
                     f"{f(r['hallucination_kappa'])} | {f(r['hallucination_accuracy'], '.0%')} | {f(r['pairwise_kappa'])} | "
                     f"{f(r['pairwise_accuracy'], '.0%')} | {f(r['clear_winner_agreement'], '.0%')} | {r['calls']} | "
                     f"{f(r['wall_s'], '.0f')} | {f(r['s_per_call'])} | {est} | {r['cpu']} "
                     f"({', '.join(r['cpu_bf16_flags'] or []) or 'no native bf16'}) |")
    return "\n".join(lines)


@cli_main  # a missing or bad input file, a bad option value: 'error: ...', rc 2
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--judgments", type=Path, default=RESULTS_DIR / "judgments")
    p.add_argument("--split", default="test")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "judge_comparison.json")
    args = p.parse_args(argv)
    items = list(load_eval_items(DATA_DIR / "eval.jsonl").values())
    files = sorted(args.judgments.glob(f"checklist-calibration-*-{args.split}.json")) + \
        sorted(args.judgments.glob(f"holistic-calibration-*-{args.split}.json"))
    if not files:
        p.error(f"no *-calibration-*-{args.split}.json in {args.judgments}: run `judge/run.py agreement` first")
    bench_file = RESULTS_DIR / "bench_judges.json"
    bench = {b["judge"]: b for b in json.loads(bench_file.read_text())["judges"]} if bench_file.is_file() else {}
    rows = [row(json.loads(f.read_text()), items, f, bench) for f in files]
    default = choose(rows)
    result = {"command": "python judge/run.py compare " + " ".join(argv if argv is not None else sys.argv[1:]),
              "split": args.split, "budget_s_per_200_answers": BUDGET_S, "default": default,
              "rule": "best mean of hallucination and pairwise kappa (out-of-fold) among judges that judge 200 "
                      "answers within the budget (tools/bench_judges.py, else estimated)", "judges": rows,
              "bench": bench_file.name if bench else None,
              "labels": "data/labels/ label set v2 (AI annotators)"}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(table(rows, default) + "\n")
    print(table(rows, default))
    print(f"default: {default}; written to {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
