#!/usr/bin/env python
"""Measure the judge's prompt-injection flip rates with and without the sanitizer -> results/injection.json.

    python scripts/measure_injection.py --n 40        # the CPU default judge (starts its vLLM server if needed)

Runs ``judge/run.py injection`` twice on the same seeded sample of pairs and every attack kind of
``prompts/judge_injection.txt``: with the sanitizer (the default) and with ``--no-sanitize``. Both
runs use a copy of the committed judge cache (so the clean verdicts are those of the reference run
and no committed file is appended to) and the committed calibration (the fitted tie band), in
``--work``. The exact commands, wall times and both summaries go into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from supportbot.paths import RESULTS_DIR, SMALL_HOLISTIC_JUDGE
from supportbot.provenance import write_result

ROOT = Path(__file__).resolve().parents[1]

KEYS = ("n_pairs_scored", "pair_flip_rate", "pair_success_rate", "n_orders_scored", "order_flip_rate",
        "order_success_rate", "n_prompts_same_as_clean", "n_unparseable", "n_failed")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=40, help="pairs to sample")
    p.add_argument("--judge", default=SMALL_HOLISTIC_JUDGE)
    p.add_argument("--attacks", help="comma-separated attack kinds (default: all)")
    p.add_argument("--work", type=Path, default=ROOT / "outputs" / "injection", help="cache copy and run outputs")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "injection.json")
    a = p.parse_args(argv)
    a.work.mkdir(parents=True, exist_ok=True)
    cache = a.work / "cache.jsonl"
    shutil.copyfile(RESULTS_DIR / "judgments" / "cache" / f"{a.judge}.jsonl", cache)
    runs, started = {}, time.time()
    for name, extra in (("sanitized", []), ("no_sanitize", ["--no-sanitize"])):
        out_dir = a.work / name
        (out_dir / "judgments").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(RESULTS_DIR / "calibration.json", out_dir / "calibration.json")
        cmd = [sys.executable, "judge/run.py", "injection", "--judge", a.judge, "--n", str(a.n), "--cache", str(cache),
               "--out-dir", str(out_dir), "--no-progress", *(["--attacks", a.attacks] if a.attacks else []), *extra]
        t0 = time.perf_counter()
        rc = subprocess.run(cmd, cwd=ROOT).returncode
        wall = round(time.perf_counter() - t0, 1)
        print(f"{name}: rc {rc} in {wall} s", file=sys.stderr)
        if rc != 0:
            return rc
        summary = json.loads((out_dir / "judgments" / f"injection-{a.judge}.summary.json").read_text())
        runs[name] = {"command": " ".join(["python", *[str(Path(c).relative_to(ROOT)) if str(c).startswith(str(ROOT))
                                                       else str(c) for c in cmd[1:]]]),
                      "wall_s": wall, "judge_calls": summary["judge_usage"]["calls"],
                      "cache_hits": summary["judge_usage"]["cache_hits"],
                      **{k: summary[k] for k in KEYS},
                      "by_attack": {k: {x: v[x] for x in ("placement", *KEYS)} for k, v in summary["by_attack"].items()}}
        last = summary
    result = {"judge": a.judge, "n_pairs": last["n_pairs"], "attacks": last["attacks"],
              "n_pair_attacks": last["n_pair_attacks"], "sampled_ids": last["sampled_ids"],
              "command": f"python scripts/measure_injection.py --n {a.n} --judge {a.judge}"
                         + (f" --attacks {a.attacks}" if a.attacks else ""),
              "wall_s": round(time.time() - started, 1), "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "note": "clean verdicts from a copy of the committed judge cache; tie band from results/calibration.json; "
                      "the sanitizer was written knowing these attack kinds (see judge/sanitize.py)",
              **runs}
    write_result(a.out, result, quiet=True, ensure_ascii=False)
    print(f"wrote {a.out}: pair flip rate {runs['sanitized']['pair_flip_rate']} with the sanitizer, "
          f"{runs['no_sanitize']['pair_flip_rate']} without ({result['n_pair_attacks']} attacked pairs)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
