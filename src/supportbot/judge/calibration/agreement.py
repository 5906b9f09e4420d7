"""``judge/run.py agreement``: one judge's agreement with label set v2, any judge kind (the grader's own).

    python judge/run.py agreement --judge local-qwen1.5b-checklist              # test split
    python judge/run.py agreement --judge local-qwen1.5b-checklist --split dev  # where prompts are tuned
    python judge/run.py agreement --judge local-qwen0.5b --limit 20             # a holistic judge, a smoke run

Writes results/judgments/<judge_mode>-calibration-<judge>-<split>.json (read by ``judge/run.py compare``):
agreement out-of-fold (calibration/fit.py), the judge's calls and time, the hardware.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from supportbot.cli_args import positive_int
from supportbot.cli_errors import cli_main
from supportbot.judge.endpoint.client import JudgeClient
from supportbot.judge.endpoint.config import load_config
from supportbot.judge.endpoint.launch import judge_endpoint, launch_dtype
from supportbot.judge.graders.registry import grader_for
from supportbot.judge.inputs import load_eval_items
from supportbot.paths import DATA_DIR, LABELS_DIR, RESULTS_DIR, SMALL_CHECKLIST_JUDGE, repo_relative
from supportbot.training.manifest import hardware


@cli_main  # a missing or bad input file, a bad option value: 'error: ...', rc 2
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="judge/run.py agreement", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--judge", default=SMALL_CHECKLIST_JUDGE, help="judge config name or path")
    p.add_argument("--judge-base-url", help="use a running OpenAI-compatible endpoint instead of launching one")
    p.add_argument("--rubric-dir", type=Path, default=LABELS_DIR)
    p.add_argument("--split", choices=["dev", "test", "all"], default="test",
                   help="label rows of these eval items (splits.py): tune prompts on dev, report test (default)")
    p.add_argument("--limit", type=positive_int, help="first N labelled answers and pairs only (a smoke run)")
    p.add_argument("--out", type=Path, help="output JSON (default: results/judgments/<mode>-calibration-<judge>-<split>.json)")
    p.add_argument("--cache", type=Path, help="judge cache (default: results/judgments/cache/<judge>.jsonl)")
    p.add_argument("--dtype", choices=["auto", "float32", "bfloat16"],
                   help="override the config's launch.dtype (e.g. float32 to time a CPU without native bf16; "
                        "use a separate --cache: the cache key does not include the dtype)")
    args = p.parse_args(argv)
    cfg = load_config(args.judge, base_url=args.judge_base_url)
    if args.dtype and not args.cache:
        p.error("--dtype needs its own --cache (the cache key does not include the dtype)")
    if args.dtype:
        cfg = cfg.with_launch(dtype=args.dtype)
    grader = grader_for(cfg)
    items = load_eval_items(DATA_DIR / "eval.jsonl")
    t0 = time.time()
    with judge_endpoint(cfg) as lazy:
        client = JudgeClient(cfg, cache_path=args.cache or RESULTS_DIR / "judgments" / "cache" / f"{cfg.name}.jsonl",
                             endpoint=lazy)
        res = grader.agreement(client, items, args.rubric_dir, args.split, args.limit)
    stats = client.stats
    labels = repo_relative(args.rubric_dir)
    result = {"judge": cfg.name, "model": cfg.model, "judge_mode": cfg.judge_mode, "verdict_mode": cfg.verdict_mode,
              "dtype": launch_dtype(cfg.launch.dtype) if cfg.launch and not cfg.base_url else None,
              "command": "python judge/run.py agreement " + " ".join(argv if argv is not None else sys.argv[1:]),
              **res, "calls": stats.calls, "cache_hits": stats.cache_hits, "failures": stats.failures,
              "wall_s": round(time.time() - t0, 1),
              # mean latency per call: this run's calls plus the latencies the cache recorded when its hits were asked
              "s_per_call": round(stats.mean_request_s, 3) if stats.mean_request_s is not None else None,
              "recorded_request_s": round(stats.recorded_request_s, 1),
              "hardware": hardware(), "labels": f"{labels}/v2 (AI annotators; see {labels}/v2/agreement.json)"}
    out = args.out or RESULTS_DIR / "judgments" / f"{cfg.judge_mode}-calibration-{cfg.name}-{args.split}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    brief = {k: result[k] for k in ("checklist", "calls", "wall_s", "s_per_call")}
    brief["hallucination"] = {k: v for k, v in (result["hallucination"] or {}).items()
                              if k not in ("truth_binary", "judge_binary")}
    brief["pairwise"] = result["pairwise"]
    print(json.dumps(brief, indent=2))
    print(f"written to {out}")
    return 1 if stats.failures else 0
