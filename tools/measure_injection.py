#!/usr/bin/env python
"""Measure the judge's prompt-injection flip rates with and without the sanitizer -> results/injection.json.

    python tools/measure_injection.py --n 40        # the default judge (checklist; starts its vLLM server)

Judges the same seeded sample of pairs under every attack kind (``prompts/judge_injection.txt``, the
kinds the sanitizer was written against, and ``prompts/judge_injection_heldout.txt``, kinds written
after it) twice, in one process with one judge server: with ``--no-sanitize`` first, then with the
sanitizer (the default), so a sanitized prompt the sanitizer left unchanged is answered from the
cache. A checklist judge is measured by supportbot/judge/checklist_injection.py (flip = the pair verdict or the
attacked answer's hallucination verdict changes), a holistic one by ``judge/run.py injection``'s code.
Clean verdicts come from a copy of the committed judge cache in ``--work`` (no committed file is
appended to; rows an earlier run of this script added are kept there, so a rerun resumes), with the
committed calibration (tie margin, risk model). Commands, wall times, the sanitizer's sha256, the
hardware, the text of every attack kind and both summaries go into ``--out``.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from supportbot.cli_errors import CliError, run_cli
from supportbot.jsonl import append_jsonl, iter_jsonl, repair_tail
from supportbot.judge import evaluate as runner
from supportbot.judge.endpoint.client import JudgeClient
from supportbot.judge.endpoint.config import load_config
from supportbot.judge.endpoint.launch import judge_endpoint
from supportbot.judge.graders import sanitize as sanitize_module
from supportbot.judge.injection import load_attacks
from supportbot.paths import DATA_DIR, DEFAULT_JUDGE, RESULTS_DIR, ROOT, repo_relative
from supportbot.provenance import git_state, hardware, sha256_file, write_result

SETTINGS = (("no_sanitize", False), ("sanitized", True))  # unsanitized first: see the module docstring
SHARED = ("n_pairs", "n_pair_attacks", "sampled_ids")  # the same in both settings: reported once


def work_cache(committed: Path, work: Path) -> Path:
    """``work``: a copy of ``committed`` plus the rows an earlier run appended to ``work`` (other keys only)."""
    if not committed.is_file():
        raise CliError(f"{repo_relative(committed)}: no committed judge cache to take the clean verdicts from")
    extra: list[dict[str, Any]] = []
    if work.is_file():
        repair_tail(work)
        keys = {row["key"] for _, row in iter_jsonl(committed)}
        extra = [row for _, row in iter_jsonl(work) if row.get("key") not in keys]
    shutil.copyfile(committed, work)
    for row in extra:
        append_jsonl(work, row)
    return work


def measure(judge: str, sanitize: bool, endpoint, cache: Path, out_dir: Path, n: int,
            attacks: list[str] | None) -> dict[str, Any]:
    """One setting: the injection summary of ``judge`` with the sanitizer on or off."""
    (out_dir / "judgments").mkdir(parents=True, exist_ok=True)
    # this judge's own calibration (results/calibration/<judge>.json; the shared calibration.json may be another judge's)
    (out_dir / "calibration").mkdir(exist_ok=True)
    shutil.copyfile(RESULTS_DIR / "calibration" / f"{judge}.json", out_dir / "calibration" / f"{judge}.json")
    cfg = load_config(judge, sanitize_answers=sanitize)
    client = JudgeClient(cfg, cache_path=cache, endpoint=endpoint)
    run = runner.Run(client=client, eval_path=DATA_DIR / "eval.jsonl", baseline="base", candidate="tuned",
                     out_dir=out_dir, injection_n=n, injection_attacks=attacks, progress=False)
    t0 = time.perf_counter()
    result = runner.do_injection(run)  # the judge kind's grader: holistic or checklist
    client.close()
    usage = client.report()
    result["records"] = repo_relative(Path(result["records"]))
    return {"wall_s": round(time.perf_counter() - t0, 1), "judge_calls": usage["calls"],
            "cache_hits": usage["cache_hits"], "request_s": usage["request_s"], "prompt_tokens": usage["prompt_tokens"],
            **{k: v for k, v in result.items() if k != "attacks"}}


def _terminate(signum: int, _frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so the judge server started here is stopped (finished checks stay cached)."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=40, help="pairs to sample")
    p.add_argument("--judge", default=DEFAULT_JUDGE)
    p.add_argument("--attacks", help="comma-separated attack kinds (default: all, held-out ones included)")
    p.add_argument("--work", type=Path, default=ROOT / "outputs" / "injection", help="cache copy and run outputs")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "injection.json")
    a = p.parse_args(argv)
    names = [x.strip() for x in a.attacks.split(",") if x.strip()] if a.attacks else None
    a.work.mkdir(parents=True, exist_ok=True)
    cache = work_cache(RESULTS_DIR / "judgments" / "cache" / f"{a.judge}.jsonl", a.work / f"cache-{a.judge}.jsonl")
    cfg = load_config(a.judge)
    sanitizer = sha256_file(Path(sanitize_module.__file__))  # the code this process imported, read before any edit
    runs: dict[str, Any] = {}
    started, t0 = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), time.perf_counter()
    with judge_endpoint(cfg) as server:  # one server for both settings, started on the first cache miss
        for name, sanitize in SETTINGS:
            runs[name] = measure(a.judge, sanitize, server, cache, a.work / name, a.n, names)
            print(f"{name}: {runs[name]['judge_calls']} judge calls in {runs[name]['wall_s']} s", file=sys.stderr)
    shared = {k: runs["sanitized"][k] for k in SHARED}
    if any({k: r.pop(k) for k in SHARED} != shared for r in runs.values()):
        raise CliError("the two settings judged different samples")
    last = runs["sanitized"]
    command = (f"python tools/measure_injection.py --n {a.n} --judge {a.judge}"
               + (f" --attacks {a.attacks}" if a.attacks else "")
               + (f" --out {repo_relative(a.out)}" if a.out != RESULTS_DIR / "injection.json" else ""))
    attacks = list(last["by_attack"])
    result = {"judge": a.judge, "judge_mode": cfg.judge_mode, "n_pairs": shared["n_pairs"], "attacks": attacks,
              "held_out_attacks": [k for k, v in last["by_attack"].items() if v["held_out"]],
              "attack_texts": {x.name: {"placement": x.placement, "text": x.template, "held_out": x.held_out}
                               for x in load_attacks(attacks)},
              "n_pair_attacks": shared["n_pair_attacks"], "sampled_ids": shared["sampled_ids"], "command": command,
              "wall_s": round(time.perf_counter() - t0, 1), "measured_at": started,
              "sanitizer_sha256": sanitizer, "git": git_state(),
              "hardware": hardware(),
              "note": "clean verdicts from a copy of the committed judge cache; tie margin / risk model from "
                      "results/calibration/<judge>.json; held_out_attacks were written after the sanitizer "
                      "(prompts/judge_injection_heldout.txt), the others before it",
              **runs}
    write_result(a.out, result, quiet=True, ensure_ascii=False)
    print(f"wrote {a.out}: pair flip rate {runs['sanitized']['pair_flip_rate']} with the sanitizer, "
          f"{runs['no_sanitize']['pair_flip_rate']} without ({result['n_pair_attacks']} attacked pairs)", file=sys.stderr)
    return 0


def _main() -> int:
    try:
        return main()
    except KeyboardInterrupt:
        print("interrupted: every finished judgment is in the work cache; rerun the same command to continue",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(run_cli(_main))
