#!/usr/bin/env python
"""Serving base and tuned at once: two vLLM servers (base + merged) vs one server with a LoRA module.

    python tools/bench_serve_memory.py          # -> results/bench_serve_memory.json

Both setups serve the names `base` and `tuned` from the same folders (the base model, the merged
model / the LoRA adapter of the CPU default run) with the same vLLM flags (--enforce-eager, the
same KV-cache space and max model length). For each: time to ready, resident memory of every
server process tree (summed RSS from /proc after one answer per name), and the greedy answer to one
question from each name, so the LoRA path is checked to serve the tuned behaviour. Setups run one
after the other (never together) on an otherwise idle machine; the load average is recorded.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from supportbot import vllm_server
from supportbot.paths import DEFAULT_BASE_MODEL_DIR, DEFAULT_RUN_DIR, RESULTS_DIR, load_prompt
from supportbot.provenance import write_result
from supportbot.runtime_env import apply_safe_env

ROOT = Path(__file__).resolve().parents[1]

RUN_DIR = DEFAULT_RUN_DIR
QUESTION = "My SR-300 router's LED is blinking amber. What does that mean?"


def ask(url: str, model: str) -> str:
    from openai import OpenAI

    client = OpenAI(base_url=url, api_key="EMPTY", timeout=300)
    r = client.chat.completions.create(model=model, temperature=0, max_tokens=48, seed=0, messages=[
        {"role": "system", "content": load_prompt("support_system")}, {"role": "user", "content": QUESTION}])
    return r.choices[0].message.content or ""


def run_setup(label: str, servers: list[vllm_server.VllmConfig], names: dict[str, int]) -> dict:
    """Start ``servers`` one after another, ask each served name once, measure, stop everything."""
    records = []
    try:
        t0 = time.monotonic()
        for cfg in servers:
            records.append(vllm_server.start(cfg, timeout=900))
        ready_s = round(time.monotonic() - t0, 1)
        answers = {name: ask(records[i]["url"], name) for name, i in names.items()}
        rss = [round(vllm_server.process_tree_rss(r["pid"]) / 2**30, 3) for r in records]
        return {"setup": label, "servers": len(records), "ready_s_total": ready_s, "rss_gib_per_server": rss,
                "rss_gib_total": round(sum(rss), 3), "answers": answers,
                "argv": [r["argv"] for r in records]}
    finally:
        for cfg in servers:
            vllm_server.stop(cfg.name, quiet=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-dir", type=Path, default=RUN_DIR, help="Axolotl output_dir with the adapter and merged/")
    p.add_argument("--kv-cache-gib", type=float, default=1.0)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "bench_serve_memory.json")
    a = p.parse_args(argv)
    apply_safe_env(os.environ)
    merged = a.run_dir / "merged"
    if not (merged / "config.json").is_file() or not (a.run_dir / "adapter_config.json").is_file():
        raise SystemExit(f"error: {a.run_dir} has no adapter and merged model: run the pipeline's train stage first")
    common = {"port": 0, "enforce_eager": True, "kv_cache_gib": a.kv_cache_gib}
    load_start = os.getloadavg()
    results = [
        run_setup("two servers (base, merged tuned)",
                  [vllm_server.VllmConfig(model_dir=DEFAULT_BASE_MODEL_DIR, name="base", **common),
                   vllm_server.VllmConfig(model_dir=merged, name="tuned", **common)], {"base": 0, "tuned": 1}),
        run_setup("one server, LoRA module (--enable-lora --lora-modules tuned=<adapter>)",
                  [vllm_server.VllmConfig(model_dir=DEFAULT_BASE_MODEL_DIR, name="base", loras={"tuned": a.run_dir}, **common)],
                  {"base": 0, "tuned": 0}),
    ]
    two, lora = results
    out = {"command": "python tools/bench_serve_memory.py", "question": QUESTION, "kv_cache_gib": a.kv_cache_gib,
           "results": results, "rss_ratio_two_servers_over_lora": round(two["rss_gib_total"] / lora["rss_gib_total"], 2),
           "tuned_answer_same_merged_vs_lora": two["answers"]["tuned"] == lora["answers"]["tuned"],
           "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
           "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    write_result(a.out, out, quiet=True)
    for r in results:
        print(f"{r['setup']}: {r['rss_gib_total']} GiB resident, ready in {r['ready_s_total']} s")
    print(f"two servers / LoRA = {out['rss_ratio_two_servers_over_lora']}x memory; "
          f"tuned answers identical: {out['tuned_answer_same_merged_vs_lora']}; wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
