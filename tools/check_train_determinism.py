#!/usr/bin/env python
"""Is CPU training bit-reproducible? Train the same config twice and compare the adapters.

Runs ``scripts/train.py <config> -- --max_steps=N`` ``--runs`` times into temporary folders (same data,
same seed, same prepared dataset, same thread count) and records each adapter's sha256 and logged
losses. ``--env K=V`` adds environment variables to every run (e.g. ``MKL_CBWR=AUTO,STRICT``).

    python tools/check_train_determinism.py                       # -> results/train_determinism.json
    python tools/check_train_determinism.py --env MKL_DYNAMIC=FALSE --env MKL_CBWR=AUTO,STRICT --out /tmp/d.json

Why it matters: when two trainings differ, the tuned model's greedy answers differ too, so a rerun of
the pipeline (or a fresh clone) generates and judges new tuned answers instead of reusing the
committed ones, and its numbers move within their confidence intervals.
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

from supportbot.paths import DEFAULT_TRAIN_CONFIG, RESULTS_DIR, ROOT
from supportbot.provenance import hardware, sha256_file, write_result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=DEFAULT_TRAIN_CONFIG.relative_to(ROOT))
    p.add_argument("--steps", type=int, default=4, help="optimizer steps per run (default: %(default)s)")
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--env", action="append", default=[], metavar="K=V", help="extra environment variable (repeatable)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "train_determinism.json")
    a = p.parse_args(argv)
    extra = dict(kv.split("=", 1) for kv in a.env)
    env = {**os.environ, **extra, "SUPPORTBOT_NO_RESULTS_ROW": "1"}  # these runs add no row to training_runs.csv
    rows = []
    with tempfile.TemporaryDirectory(prefix="supportbot-det-") as tmp:
        for i in range(1, a.runs + 1):
            out = Path(tmp) / f"run{i}"
            cmd = [sys.executable, "scripts/train.py", str(a.config), "--", f"--max_steps={a.steps}", f"--eval_steps={a.steps}",
                   f"--output_dir={out}", f"--dataset_prepared_path={Path(tmp) / 'prepared'}"]
            t = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            manifest = json.loads((out / "run_manifest.json").read_text())
            rows.append({"run": i, "seconds": round(time.perf_counter() - t, 1),
                         "adapter_sha256": sha256_file(out / "adapter_model.safetensors")[:16],
                         "train_loss_curve": manifest.get("train_loss_curve"), "eval_loss_curve": manifest.get("eval_loss_curve")})
            print(json.dumps(rows[-1]), flush=True)
    identical = len({r["adapter_sha256"] for r in rows}) == 1
    result = {"command": "python tools/check_train_determinism.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "config": str(a.config), "steps": a.steps, "env": extra, "runs": rows, "bit_identical": identical,
              "hardware": hardware(), "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    return write_result(a.out, result, summary=f"adapters {'identical' if identical else 'differ'}")


if __name__ == "__main__":
    raise SystemExit(main())
