#!/usr/bin/env python
"""Why CPU training collapses when another process holds a core: OpenMP waiting policy, measured side by side.

    python tools/bench_omp_contention.py            # -> results/bench_omp_contention.json

PyTorch's CPU kernels run on an OpenMP team with one thread per core; every parallel region ends
in a barrier. With libgomp's default (active) waiting, a thread that reaches the barrier spins;
when another process holds one of the two cores, the spinning thread burns the time slice its
partner needs, and each of the thousands of barriers per training step waits for the scheduler.
This script times the same bf16/fp32 matmul loop (the shape of a SmolLM2-135M MLP projection on a
4 x 256-token micro-batch) in a fresh process for each setting, quiet and beside a busy-loop
process it starts itself (bounded in time): OMP_NUM_THREADS=cores with the default and with
OMP_WAIT_POLICY=PASSIVE, and one thread. Settings alternate, rounds repeat, medians reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from supportbot.paths import RESULTS_DIR
from supportbot.provenance import git_state, hardware, package_versions, write_result

ROOT = Path(__file__).resolve().parents[1]

WORKER = """
import time, torch
x = torch.randn(1024, 576); w = torch.randn(576, 1536)
for _ in range(20):
    x @ w
t = time.perf_counter(); n = 0
while time.perf_counter() - t < {seconds}:
    x @ w
    n += 1
print(n / (time.perf_counter() - t))
"""
BUSY = "import time\nt = time.time()\nwhile time.time() - t < {seconds}:\n    pass\n"


def run_one(threads: int, policy: str | None, seconds: float) -> float:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env.pop("OMP_WAIT_POLICY", None)
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    out = subprocess.run([sys.executable, "-c", WORKER.format(seconds=seconds)], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=6.0, help="timed seconds per measurement")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "bench_omp_contention.json")
    args = p.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    settings = [(f"{cores} threads, default wait", cores, None), (f"{cores} threads, OMP_WAIT_POLICY=PASSIVE", cores, "PASSIVE"),
                ("1 thread", 1, None)]
    rows = []
    for rnd in range(args.rounds):
        for busy in (False, True):
            for name, threads, policy in settings:
                hog = subprocess.Popen([sys.executable, "-c", BUSY.format(seconds=args.seconds + 15)]) if busy else None
                try:
                    if hog:
                        time.sleep(0.5)
                    rate = run_one(threads, policy, args.seconds)
                finally:
                    if hog:
                        hog.kill()
                        hog.wait()
                rows.append({"round": rnd, "busy_process": busy, "setting": name, "matmuls_per_s": round(rate, 1)})
                print(rows[-1], flush=True)
    med = {f"{'busy' if b else 'quiet'}: {n}": statistics.median(r["matmuls_per_s"] for r in rows if r["busy_process"] == b and r["setting"] == n)
           for b in (False, True) for n, _, _ in settings}
    quiet_default = med[f"quiet: {settings[0][0]}"]
    result = {"command": "python tools/bench_omp_contention.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "median_matmuls_per_s": med, "ratio_vs_quiet_default": {k: round(v / quiet_default, 3) for k, v in med.items()},
              "rows": rows, "hardware": hardware(), "packages": package_versions(), "git": git_state()}
    print(json.dumps(result["ratio_vs_quiet_default"], indent=2))
    return write_result(args.out, result)


if __name__ == "__main__":
    raise SystemExit(main())
