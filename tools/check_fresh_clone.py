#!/usr/bin/env python
"""Run the README's main command on a fresh clone and check that it regenerates the committed results.

Clones the committed HEAD of this repository into a temporary folder, runs `make setup` and then
`python scripts/run_pipeline.py` there (what `make pipeline` does), timing each, and compares the
clone's regenerated ``results/summary.json`` with the committed one: every outcome number (win rates,
hallucination rates, calibration, reference check, lm-eval, training losses and tokens) must be equal;
times, dates and paths may differ. Writes ``results/fresh_clone_check.json`` here.

    python tools/check_fresh_clone.py                # setup from scratch in the clone (PyPI, pip cache)
    python tools/check_fresh_clone.py --reuse-envs   # link this checkout's .venv/.venv-vllm (time the pipeline only)

What a fresh clone reuses: the committed answers (results/answers/, used again only when the retrained
weights have the same sha256 as the weights that made them) and the committed judge cache
(results/judgments/cache/, keyed by the exact judge prompt, model and decoding). Training, merging,
lm-eval, the reference check and the report always run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from supportbot.paths import RESULTS_DIR
from supportbot.provenance import hardware, write_result

ROOT = Path(__file__).resolve().parents[1]

OUTCOME_SECTIONS = ("missing", "training", "lm_eval", "pairwise", "hallucination", "calibration", "reference_check")
# leaves that describe when, how long or where, not what was measured
NOT_OUTCOME = re.compile(r"(second|_s$|wall|time|finished|created|modified|date|_at$|commit|path|file|dir|records"
                         r"|command|url|tokens_per|throughput|peak|hardware|version|cost|price)", re.I)


def flatten(x: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(x, dict):
        return {k: v for key, val in x.items() for k, v in flatten(val, f"{prefix}/{key}").items()}
    if isinstance(x, list):
        return {k: v for i, val in enumerate(x) for k, v in flatten(val, f"{prefix}/{i}").items()}
    return {prefix: x}


def outcome_differences(committed: dict, regenerated: dict) -> list[dict[str, Any]]:
    """Outcome leaves of summary.json that differ between the committed and the regenerated results."""
    a = {k: v for s in OUTCOME_SECTIONS for k, v in flatten(committed.get(s), f"/{s}").items()}
    b = {k: v for s in OUTCOME_SECTIONS for k, v in flatten(regenerated.get(s), f"/{s}").items()}
    keys = sorted(k for k in set(a) | set(b) if not NOT_OUTCOME.search(k))  # e.g. /training/cost/usd follows wall time
    return [{"key": k, "committed": a.get(k), "regenerated": b.get(k)} for k in keys if a.get(k) != b.get(k)]


def committed_summary() -> dict:
    return json.loads(subprocess.run(["git", "show", "HEAD:results/summary.json"], cwd=ROOT,
                                     capture_output=True, text=True, check=True).stdout)


def recompare(clone: Path, out: Path) -> int:
    """Recompute the outcome differences of an earlier check from its kept clone (timings stay as measured)."""
    record = json.loads(out.read_text())
    diffs = outcome_differences(committed_summary(), json.loads((clone / "results" / "summary.json").read_text()))
    record.update(outcome_differences=diffs, outcomes_equal=not diffs,
                  recompared_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    write_result(out, record, summary=f"{len(diffs)} outcome differences")
    return 0 if not diffs else 1


def run(cmd: list[str], cwd: Path, log: Path, env: dict[str, str]) -> float:
    t = time.perf_counter()
    with log.open("a") as fh:
        fh.write(f"$ {' '.join(cmd)}\n")
        fh.flush()
        proc = subprocess.run(cmd, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    if proc.returncode:
        raise SystemExit(f"`{' '.join(cmd)}` failed in {cwd} (exit {proc.returncode}); log: {log}")
    return round(time.perf_counter() - t, 1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reuse-envs", action="store_true", help="link .venv and .venv-vllm from this checkout")
    p.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "fresh_clone_check.json")
    p.add_argument("--recompare", type=Path, metavar="CLONE",
                   help="only recompute --out's outcome differences from a clone kept with --keep (same HEAD)")
    a = p.parse_args(argv)
    if a.recompare:
        return recompare(a.recompare, a.out)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.strip()
    if dirty:
        print("note: uncommitted changes are not part of the clone:\n" + dirty, file=sys.stderr)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    tmp = Path(tempfile.mkdtemp(prefix="supportbot-fresh-"))
    clone, log = tmp / "supportbot", tmp / "run.log"
    try:
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        env = dict(os.environ)
        if a.reuse_envs:
            for venv in (".venv", ".venv-vllm"):
                (clone / venv).symlink_to(ROOT / venv)
            # .venv's editable install points at this checkout's src/: the clone's own code must come first
            env["PYTHONPATH"] = str(clone / "src")
        print(f"clone of {commit[:12]} in {clone}; log {log}", flush=True)
        setup_s = run(["make", "setup"], clone, log, env)
        print(f"setup: {setup_s} s", flush=True)
        pipeline_s = run([str(clone / ".venv" / "bin" / "python"), "scripts/run_pipeline.py"], clone, log, env)
        print(f"pipeline: {pipeline_s} s", flush=True)
        regenerated = json.loads((clone / "results" / "summary.json").read_text())
        timing = json.loads((clone / "results" / "pipeline_timing.json").read_text())
        judge_usage = json.loads((clone / "results" / "judge_summary.json").read_text()).get("judge_usage", {})
        reused = [line.strip() for line in log.read_text().splitlines() if "is not served" in line]
        diffs = outcome_differences(committed_summary(), regenerated)
        out = {"command": "python tools/check_fresh_clone.py " + " ".join(argv if argv is not None else sys.argv[1:]),
               "commit": commit, "reuse_envs": a.reuse_envs, "setup_s": setup_s, "pipeline_s": pipeline_s,
               "total_s": round(setup_s + pipeline_s, 1),
               "stages": [{k: s.get(k) for k in ("stage", "status", "seconds")} for s in timing["stages"]],
               "judge_calls": judge_usage.get("calls"), "judge_cache_hits": judge_usage.get("cache_hits"),
               "answers_reused": reused, "outcome_differences": diffs, "outcomes_equal": not diffs,
               "hardware": hardware(), "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        write_result(a.out, out, summary=f"setup {setup_s} s + pipeline {pipeline_s} s; judge calls {out['judge_calls']}, "
                                          f"{len(diffs)} outcome differences")
        return 0 if not diffs else 1
    finally:
        if a.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PIP_NO_INPUT", "1")
    raise SystemExit(main())
