#!/usr/bin/env python
"""What judging costs each candidate judge, measured side by side in one run on the same answers.

    python tools/bench_judges.py                    # -> results/bench_judges.json
    python tools/bench_judges.py --items 4 --judges local-qwen1.5b-checklist local-qwen1.5b-checklist@float32

For every judge (a config name; ``name@float32`` / ``name@bfloat16`` overrides its ``launch.dtype``,
``name@c2`` its ``concurrency``, ``name@b32`` the vLLM KV block size; several as ``name@float32@c2``) the
base and tuned answers to the first ``--items`` eval items (results/answers/) are judged from an empty,
temporary cache, exactly as ``judge/run.py all`` judges them: a checklist judge grades each answer
once; a holistic judge makes one hallucination call per answer and two pairwise calls (both orders)
per item. The judge server is started before the clock starts (its start time is reported apart).
Reported per judge: calls, seconds of judging, seconds per call and per answer, the estimate for
200 answers (both models' answers to the 100 eval items), and the ratio to the first judge. One
process at a time on the machine: run it on a quiet machine (the numbers are wall times).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from supportbot.judge.endpoint.client import JudgeClient
from supportbot.judge.endpoint.config import JudgeConfig, load_config
from supportbot.judge.endpoint.launch import judge_endpoint, launch_dtype
from supportbot.judge.graders import checks as checklist
from supportbot.judge.graders import hallucination as hal
from supportbot.judge.graders import pairwise as pw
from supportbot.judge.inputs import answers_path, load_eval_items
from supportbot.paths import DATA_DIR, RESULTS_DIR
from supportbot.provenance import hardware, write_result
from supportbot.records import answer_rows

ROOT = Path(__file__).resolve().parents[1]

CANDIDATES = ["local-qwen1.5b-checklist", "local-qwen0.5b-checklist", "local-qwen1.5b", "local-qwen0.5b",
              "local-qwen1.5b-checklist@float32"]


def config(spec: str) -> JudgeConfig:
    name, *overrides = spec.split("@")
    cfg = load_config(name)
    for o in overrides:
        if o in ("float32", "bfloat16", "auto") and cfg.launch:
            cfg = cfg.with_launch(dtype=o)
        elif o.startswith("b") and o[1:].isdigit() and cfg.launch:
            cfg = cfg.with_launch(block_size=int(o[1:]))
        elif o.startswith("c") and o[1:].isdigit():
            cfg = cfg.model_copy(update={"concurrency": int(o[1:])})
        else:
            raise SystemExit(f"error: unknown override {o!r} in {spec!r} (float32, bfloat16, auto, b<block size> or c<N>)")
    return cfg


def bench_one(spec: str, items: list, base: dict, tuned: dict) -> dict[str, Any]:
    cfg = config(spec)
    with tempfile.TemporaryDirectory() as tmp, judge_endpoint(cfg) as lazy:
        client = JudgeClient(cfg, cache_path=Path(tmp) / "cache.jsonl", endpoint=lazy)
        t0 = time.perf_counter()
        if lazy is not None:
            lazy()  # start the server now, outside the timed part
        start_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        if cfg.judge_mode == "checklist":
            jobs = [(it, ans[str(it.id)]["answer"]) for it in items for ans in (base, tuned)]
            grades = client.map(lambda j: checklist.grade(client, j[0], j[1]), jobs, desc=spec, progress=False)
            errors = [e for g in grades for e in g.errors]
            if errors:
                raise RuntimeError(f"{spec}: {errors[0]}")
        else:
            jobs = [(it, m, a[str(it.id)]["answer"]) for it in items for m, a in (("base", base), ("tuned", tuned))]
            hal.judge_answers(client, jobs, progress=False)
            pw.judge_pairs(client, [(it, base[str(it.id)]["answer"], tuned[str(it.id)]["answer"]) for it in items],
                           progress=False)
        judge_s = time.perf_counter() - t1
        stats = client.stats
        client.close()
    n_answers = 2 * len(items)
    return {"judge": spec, "mode": cfg.judge_mode, "model": cfg.model, "concurrency": cfg.concurrency,
            "block_size": cfg.launch.block_size if cfg.launch else None,
            "dtype": launch_dtype(cfg.launch.dtype) if cfg.launch else None, "server_start_s": round(start_s, 1),
            "answers": n_answers, "calls": stats.calls, "failures": stats.failures, "judge_s": round(judge_s, 1),
            "s_per_call": round(judge_s / max(1, stats.calls), 3), "s_per_answer": round(judge_s / n_answers, 2),
            "prompt_tokens": stats.prompt_tokens, "estimate_200_answers_s": round(judge_s / n_answers * 200, 0)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--judges", nargs="+", default=CANDIDATES, help="config names (name@float32 overrides the dtype)")
    p.add_argument("--items", type=int, default=6, help="first N eval items (2N answers) per judge")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "bench_judges.json")
    args = p.parse_args(argv)
    items = list(load_eval_items(DATA_DIR / "eval.jsonl").values())[: args.items]
    base, tuned = answer_rows(answers_path("base")), answer_rows(answers_path("tuned"))
    rows = []
    for spec in args.judges:
        print(f"== {spec}", flush=True)
        rows.append(bench_one(spec, items, base, tuned))
        print(json.dumps(rows[-1]), flush=True)
    ref = rows[0]["judge_s"] or 1.0
    for r in rows:
        r["time_ratio_to_first"] = round(r["judge_s"] / ref, 2)
    result = {"command": "python tools/bench_judges.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "items": [str(it.id) for it in items], "judges": rows, "hardware": hardware(),
              "note": "wall times of one run, one judge after the other, each from an empty cache; "
                      "estimate_200_answers_s = judge_s / answers * 200"}
    for r in rows:
        print(f"{r['judge']:36s} {r['dtype'] or '':9s} {r['calls']:5d} calls {r['judge_s']:7.1f} s "
              f"{r['s_per_call']:.3f} s/call  200 answers ≈ {r['estimate_200_answers_s'] / 60:.1f} min")
    return write_result(args.out, result)


if __name__ == "__main__":
    raise SystemExit(main())
