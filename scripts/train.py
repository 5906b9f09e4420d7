#!/usr/bin/env python
"""Train (and optionally merge) a LoRA from an Axolotl YAML: a thin wrapper, the YAML is the recipe.

    python scripts/train.py axolotl_configs/smollm2-135m-lora-cpu.yml --merge

runs exactly the documented commands
    accelerate launch -m axolotl.cli.train <config> [overrides]
    python -m axolotl.cli.merge_lora <config> --lora_model_dir=<output_dir>   (with --merge; a config without
                                                                               `adapter` is full fine-tuning: no merge)
after setting the environment: telemetry off (AXOLOTL_DO_NOT_TRACK=1, WANDB_MODE=disabled) always;
on a machine without a GPU also CUDA_VISIBLE_DEVICES="" and HF_HUB_OFFLINE=1, OMP_NUM_THREADS
set to the number of cores (accelerate would set 1) and OMP_WAIT_POLICY=PASSIVE (see
tools/bench_omp_contention.py). Extra `--key=value` arguments after `--` are
Axolotl config overrides, e.g. `-- --max_steps=5 --output_dir=outputs/smoke`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import yaml

from supportbot.runtime_env import apply_safe_env, has_cuda

ROOT = Path(__file__).resolve().parents[1]


def build_env(threads: int | None) -> dict[str, str]:
    """The environment for the Axolotl subprocesses (``src`` on PYTHONPATH for the plugin)."""
    env = apply_safe_env(dict(os.environ))
    if not has_cuda():
        env.setdefault("OMP_NUM_THREADS", str(threads or len(os.sched_getaffinity(0))))
        # OpenMP threads sleep at barriers instead of spinning: with the default (active) waiting, another
        # process on one of the cores slowed training 5-16x (tools/bench_omp_contention.py, README)
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p)
    return env


def run(cmd: list[str], env: dict[str, str]) -> None:
    """Run a command from the repository root, streaming its output; exit on failure."""
    print("+", shlex.join(cmd), flush=True)
    started = time.time()
    proc = subprocess.run(cmd, cwd=ROOT, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"error: command failed with exit code {proc.returncode}: {shlex.join(cmd)}")
    print(f"  ({time.time() - started:.0f} s)", flush=True)


def output_dir_of(config: Path, overrides: list[str]) -> Path:
    """``output_dir`` of the config, honouring an ``--output_dir=`` override."""
    for arg in overrides:
        if arg.startswith("--output_dir="):
            return Path(arg.split("=", 1)[1])
    return Path(yaml.safe_load(config.read_text())["output_dir"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path, help="Axolotl YAML, e.g. axolotl_configs/smollm2-135m-lora-cpu.yml")
    parser.add_argument("--merge", action="store_true", help="merge the LoRA into <output_dir>/merged afterwards")
    parser.add_argument("--merge-only", action="store_true", help="skip training, only merge an existing adapter")
    parser.add_argument("--threads", type=int, help="OMP_NUM_THREADS on CPU (default: all cores)")
    args, overrides = parser.parse_known_args(argv)
    args.overrides = [a for a in overrides if a != "--"]
    bad = [a for a in args.overrides if not a.startswith("--") or "=" not in a]
    if bad:
        parser.error(f"Axolotl overrides must look like --key=value, got: {' '.join(bad)}")
    if not args.config.is_file():
        parser.error(f"config not found: {args.config}")
    env = build_env(args.threads)
    py = sys.executable
    if not args.merge_only:
        run([py, "-m", "accelerate.commands.launch", "-m", "axolotl.cli.train", str(args.config), *args.overrides], env)
    if args.merge or args.merge_only:
        out = output_dir_of(args.config, args.overrides)
        if not yaml.safe_load(args.config.read_text()).get("adapter"):
            print(f"full fine-tuning (no adapter): nothing to merge, the model is {out}")
            return 0
        run([py, "-m", "axolotl.cli.merge_lora", str(args.config), f"--lora_model_dir={out}", *args.overrides], env)
        print(f"merged model: {out / 'merged'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
