#!/usr/bin/env python
"""Generation speed: vLLM (1 request, N concurrent) vs the in-process transformers backend (batch 1, batched N).

    python tools/bench_generate.py                      # full run -> results/bench_generate.json
    python tools/bench_generate.py --quick --out /tmp/bench_generate.json   # smoke check (4 prompts, 16 tokens)

Same prompts (the first N items of data/eval.jsonl, else the questions of
tests/fixtures/eval_tiny.jsonl repeated to N), each sent with the support system prompt; same model
folder (the tuned merged model if it exists, else the base model); greedy decoding; every request
generates exactly --max-tokens tokens (``ignore_eos`` on both engines), so the token counts match.
vLLM is started with scripts/serve_vllm.sh's launcher (supportbot.vllm_server, VLLM_CPU_KVCACHE_SPACE=2 GiB)
on a free port and stopped at the end; the transformers backend runs in this process
(supportbot.serve.backends.TransformersBackend, the service's batching worker). Run it when the CPU is
otherwise idle: the JSON records the load average at the start and end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import shlex
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from supportbot.generation import build_messages, load_eval
from supportbot.paths import (
    DATA_DIR,
    DEFAULT_BASE_MODEL_DIR,
    DEFAULT_TUNED_DIR,
    RESULTS_DIR,
    load_prompt,
)
from supportbot.provenance import hardware, package_versions, write_result
from supportbot.runtime_env import apply_safe_env
from supportbot.serving import serve_model

ROOT = Path(__file__).resolve().parents[1]

TUNED_DIR = DEFAULT_TUNED_DIR
FIXTURE = ROOT / "tests" / "fixtures" / "eval_tiny.jsonl"


def load_prompts(n: int) -> tuple[list[list[dict[str, str]]], str]:
    path = DATA_DIR / "eval.jsonl" if (DATA_DIR / "eval.jsonl").is_file() else FIXTURE
    items = load_eval(path)
    system = load_prompt("support_system")
    msgs = [build_messages(items[i % len(items)], system) for i in range(n)]
    note = str(path.relative_to(ROOT)) + (f" (first {n})" if len(items) >= n else f" ({len(items)} items repeated to {n})")
    return msgs, note


def summary(engine: str, mode: str, latencies: list[float], tokens: int, wall: float, **extra) -> dict:
    return {"engine": engine, "mode": mode, "requests": len(latencies), "completion_tokens": tokens,
            "wall_s": round(wall, 3), "tokens_per_s": round(tokens / wall, 2) if wall else None,
            "mean_latency_s": round(statistics.fmean(latencies), 3), **extra}


def bench_transformers(model_dir: Path, prompts, max_tokens: int) -> list[dict]:
    from supportbot.serve.backends import TransformersBackend
    from supportbot.serve.batching import GenParams

    n = len(prompts)
    backend = TransformersBackend({"m": model_dir}, queue_size=n + 1, max_batch_size=n, batch_wait_ms=200)
    params = GenParams(max_tokens=max_tokens, temperature=0.0, ignore_eos=True)
    try:
        backend.generate("m", prompts[0], GenParams(max_tokens=4, temperature=0.0))  # warm-up
        lat, toks, t0 = [], 0, time.perf_counter()
        for p in prompts:
            t = time.perf_counter()
            toks += backend.generate("m", p, params).completion_tokens
            lat.append(time.perf_counter() - t)
        single = summary("transformers", "batch 1", lat, toks, time.perf_counter() - t0)
        worker = backend.worker("m")
        before = worker.batches_run
        t0 = time.perf_counter()
        reqs = [backend.submit("m", p, params) for p in prompts]  # collected into one batch by the worker
        results = [r.future.result() for r in reqs]
        wall = time.perf_counter() - t0
        batched = summary("transformers", f"batched {n}", [wall] * n, sum(r.completion_tokens for r in results), wall,
                          batches=worker.batches_run - before, largest_batch=worker.largest_batch)
        return [single, batched]
    finally:
        backend.close()


def bench_vllm(model_dir: Path, prompts, max_tokens: int, *, kv_gib: float, enforce_eager: bool,
               timeout: float) -> tuple[list[dict], dict]:
    from supportbot.generation import make_client

    name = f"bench-gen-{os.getpid()}"
    record: dict = {}
    with serve_model("vllm", name, model_dir, enforce_eager=enforce_eager, timeout=timeout, kv_cache_gib=kv_gib,
                     on_start=record.update) as base_url:
        client = make_client(base_url, "EMPTY", max_retries=0, max_connections=len(prompts) * 2)
        kw = dict(model=name, temperature=0, max_tokens=max_tokens, extra_body={"ignore_eos": True})

        def one(p) -> tuple[float, int]:
            t = time.perf_counter()
            resp = client.chat.completions.create(messages=p, **kw)
            return time.perf_counter() - t, resp.usage.completion_tokens

        client.chat.completions.create(messages=prompts[0], model=name, temperature=0, max_tokens=4)  # warm-up
        t0 = time.perf_counter()
        runs = [one(p) for p in prompts]
        single = summary("vllm", "1 request", [r[0] for r in runs], sum(r[1] for r in runs), time.perf_counter() - t0)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(len(prompts)) as pool:
            runs = list(pool.map(one, prompts))
        conc = summary("vllm", f"{len(prompts)} concurrent", [r[0] for r in runs], sum(r[1] for r in runs),
                       time.perf_counter() - t0)
        info = {"ready_s": record.get("ready_s"), "argv": record["argv"], "kv_cache_gib": record.get("kv_cache_gib")}
        return [single, conc], info


def versions() -> dict:
    pkgs = ("torch", "transformers", "fastapi")
    found = package_versions(pkgs)
    out = {"python": found["python"], **{pkg: found.get(pkg) for pkg in pkgs}}  # absent ones: None
    vpy = ROOT / ".venv-vllm" / "bin" / "python"
    if vpy.exists():
        code = "import importlib.metadata as m; print(m.version('vllm-cpu'), m.version('torch'))"
        try:
            v = subprocess.run([str(vpy), "-c", code], capture_output=True, text=True, timeout=60).stdout.split()
            out["vllm-cpu"], out["vllm_torch"] = (v + [None, None])[:2]
        except (OSError, subprocess.TimeoutExpired):
            pass
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", type=Path, default=None, help=f"default: {TUNED_DIR} if it exists, else the base model")
    p.add_argument("--prompts", type=int, default=16, help="prompts = concurrent requests = batch size")
    p.add_argument("--max-tokens", type=int, default=128, help="tokens generated per request")
    p.add_argument("--quick", action="store_true", help="smoke check: 4 prompts, 16 tokens, vLLM --enforce-eager")
    p.add_argument("--kv-cache-gib", type=float, default=2.0, help="VLLM_CPU_KVCACHE_SPACE for the vLLM server")
    p.add_argument("--enforce-eager", action="store_true", help="start vLLM without torch.compile")
    p.add_argument("--vllm-timeout", type=float, default=900)
    p.add_argument("--skip-vllm", action="store_true")
    p.add_argument("--skip-transformers", action="store_true")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "bench_generate.json")
    a = p.parse_args(argv)
    if a.quick:
        a.prompts, a.max_tokens, a.enforce_eager = min(a.prompts, 4), min(a.max_tokens, 16), True
    if a.model_dir is None:
        a.model_dir = TUNED_DIR if (TUNED_DIR / "config.json").is_file() else DEFAULT_BASE_MODEL_DIR
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    apply_safe_env()
    prompts, prompts_note = load_prompts(a.prompts)
    load_start = os.getloadavg()
    rows: list[dict] = []
    vllm_info = None
    if not a.skip_transformers:
        rows += bench_transformers(a.model_dir, prompts, a.max_tokens)
        gc.collect()
    if not a.skip_vllm:
        vrows, vllm_info = bench_vllm(a.model_dir, prompts, a.max_tokens, kv_gib=a.kv_cache_gib,
                                      enforce_eager=a.enforce_eager, timeout=a.vllm_timeout)
        rows += vrows
    speed = {(r["engine"], r["mode"].split()[0]): r["tokens_per_s"] for r in rows}

    def ratio(engine: str, fast: str, slow: str) -> float | None:
        f, s = speed.get((engine, fast)), speed.get((engine, slow))
        return round(f / s, 2) if f and s else None

    report = {
        "command": " ".join(shlex.quote(x) for x in [sys.executable, *sys.argv]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": a.quick, "model_dir": str(a.model_dir), "prompts": prompts_note, "n_prompts": len(prompts),
        "max_tokens": a.max_tokens, "decoding": {"temperature": 0, "ignore_eos": True},
        "versions": versions(), "hardware": hardware(),
        "loadavg_start": [round(x, 2) for x in load_start], "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "vllm": vllm_info, "results": rows,
        "speedup": {"vllm_concurrent_over_single": ratio("vllm", f"{len(prompts)}", "1"),
                    "transformers_batched_over_single": ratio("transformers", "batched", "batch")},
    }
    write_result(a.out, report, quiet=True)
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"generation speed, {a.model_dir.name}, {len(prompts)} prompts x {a.max_tokens} tokens")
    for col in ("engine", "mode", "tokens", "wall s", "tokens/s", "mean latency s"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["engine"], r["mode"], str(r["completion_tokens"]), f"{r['wall_s']:.1f}", f"{r['tokens_per_s']:.1f}",
                  f"{r['mean_latency_s']:.2f}")
    Console().print(t)
    print(f"speed-ups: {report['speedup']}; wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
