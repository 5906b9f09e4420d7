"""LLM-judge harness: pairwise win rate and hallucination rate, calibrated against labelled answers (data/labels/).

    python judge/run.py all                      # calibrate + pairwise + hallucination (CPU default judge, checklist)
    python judge/run.py pairwise --limit 10      # first 10 eval questions only
    python judge/run.py hallucination --ids it-001,kb-007
    python judge/run.py calibrate --judge vllm-qwen7b
    python judge/run.py injection --n 10         # verdict flip rates under prompt injection (every attack kind)
    python judge/run.py agreement --judge local-qwen0.5b   # out-of-fold agreement with label set v2 (any judge kind)
    python judge/run.py compare                  # every judge's agreement and cost side by side, the default named
    python judge/run.py reference run            # the judge-free reference check (sentence embeddings)
    python judge/run.py COMMAND --help           # a command's options

The judge is any OpenAI-compatible endpoint described by a YAML in judge/configs/ (--judge NAME or
a path; --judge-base-url/--judge-model override it; the API key is read from the environment
variable the config names). A config with `launch:` starts its local server for the run when no
base URL is given. Every judge reply is cached in results/judgments/cache/<judge>.jsonl keyed by
(prompt, model, decoding): a rerun makes zero calls, and a killed run resumes where it stopped.
Answers come from results/answers/<model>.jsonl (eval/generate.py); questions from data/eval.jsonl.

Outputs: results/judgments/<kind>-<judge>.jsonl (one record per judgment), results/calibration/<judge>.json and
results/calibration.json (calibrate, all), results/judge_summary.json (all),
results/judgments/<kind>-<judge>.summary.json.
Exit status: 0 ok (unparseable verdicts are recorded, counted and warned about), 1 some judge calls
failed after every retry (rerun the same command: only those are asked again) or the endpoint
refused the connection (the run stops at the first refusal, naming the URL), 2 bad input/config.
"""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import sys
import threading
import time
from pathlib import Path

from supportbot.cli_args import non_negative_int, positive_int
from supportbot.cli_errors import cli_main
from supportbot.judge import evaluate
from supportbot.judge.context import Run
from supportbot.judge.endpoint.client import JudgeClient, JudgeUnreachableError
from supportbot.judge.endpoint.config import load_config
from supportbot.judge.endpoint.launch import judge_endpoint
from supportbot.judge.inputs import RUBRIC_DIR
from supportbot.judge.results import loud_warning, warn, write_json
from supportbot.paths import DATA_DIR, DEFAULT_JUDGE, RESULTS_DIR
from supportbot.runtime_env import apply_safe_env
from supportbot.serve.process import ServerStartError
from supportbot.vllm_server import VllmServerError

COMMANDS = {
    "pairwise": "candidate vs baseline (holistic: both orders; checklist: each answer graded alone); W/T/L, win rate "
                "with bootstrap CI, length-controlled win rate",
    "hallucination": "grade every answer (holistic: 0/1/2/not_attempted; checklist: hallucinated or not); rates with CIs",
    "calibrate": "agreement with the labels (holistic judges: the rubric sets, kappa, F1, Se/Sp, position bias, logprob "
                 "thresholds; checklist judges: label set v2, check AUC and out-of-fold kappa, risk model, tie margin)",
    "all": "calibrate, pairwise and hallucination; Rogan-Gladen-corrected rates; judge_summary.json",
    "injection": "rejudge a sample of pairs with injected answers; verdict flip rate",
}
# commands with options of their own: `judge/run.py NAME ...` runs module:main(argv)
DELEGATED = {
    "agreement": ("supportbot.judge.calibration.agreement", "agreement of one judge (any kind) with label set v2, "
                  "thresholds out-of-fold -> results/judgments/<kind>-calibration-<judge>-<split>.json"),
    "compare": ("supportbot.judge.compare", "every judge's agreement files side by side, the default named "
                "-> results/judge_comparison.{json,md}"),
    "reference": ("supportbot.judge.reference.check", "the judge-free reference check (run | fit)"),
    "label-sheets": ("supportbot.judge.labelling.label_sheets", "label set v2: blind sheets, agreement, final labels"),
    "rubric-sheet": ("supportbot.judge.labelling.rubric_sheet", "the v1 rubric sets: sample sheets, finalize labels"),
}


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("judge")
    g.add_argument("--judge", default=DEFAULT_JUDGE, help="config name in judge/configs/ or a YAML path (default: %(default)s)")
    g.add_argument("--judge-base-url", help="override the config's OpenAI-compatible base URL")
    g.add_argument("--judge-model", help="override the config's model name")
    g.add_argument("--verdict-mode", choices=["json", "logprobs"], help="override the config's verdict mode")
    g.add_argument("--concurrency", type=positive_int, help="override the config's requests in flight")
    g.add_argument("--cache", type=Path, help="cache file (default results/judgments/cache/<judge>.jsonl)")
    g.add_argument("--no-sanitize", action="store_true",
                   help="keep text addressed to the grader inside answers (to measure the undefended injection flip rate)")
    d = common.add_argument_group("data")
    d.add_argument("--eval", type=Path, default=DATA_DIR / "eval.jsonl", help="eval questions JSONL")
    d.add_argument("--baseline", default="base", help="baseline model name (results/answers/<name>.jsonl) or a .jsonl path")
    d.add_argument("--candidate", default="tuned", help="candidate model name or a .jsonl path")
    d.add_argument("--limit", type=positive_int, help="judge only the first N eval questions")
    d.add_argument("--ids", help="comma-separated eval ids to judge")
    d.add_argument("--rubric-dir", type=Path, default=RUBRIC_DIR, help="folder with hallucination.jsonl and pairwise.jsonl")
    d.add_argument("--rubric-limit", type=positive_int, help="use only the first N rubric rows of each set")
    d.add_argument("--label-split", choices=["dev", "test", "all"], default="test",
                   help="checklist judges: calibrate on the label-set-v2 rows of this split (src/supportbot/judge/splits.py)")
    d.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="results folder")
    s = common.add_argument_group("statistics")
    s.add_argument("--seed", type=non_negative_int, default=0, help="bootstrap / sampling seed")
    s.add_argument("--resamples", type=positive_int, default=2000, help="bootstrap resamples (>= 2000 for reported numbers)")
    common.add_argument("--no-progress", action="store_true", help="no progress bars")

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in COMMANDS.items():
        sp = sub.add_parser(name, parents=[common], help=text, description=text,
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        if name == "injection":
            sp.add_argument("--n", type=positive_int, default=10, help="pairs to sample (each judged in both orders)")
            sp.add_argument("--attacks", help="comma-separated attack kinds of prompts/judge_injection.txt (default: all)")
    for name, (_, text) in DELEGATED.items():
        sub.add_parser(name, help=f"{text} (`{name} --help`)", add_help=False)
    return p


def _terminate(signum: int, _frame: object) -> None:
    """SIGTERM (e.g. `timeout`, a CI cancel) unwinds like Ctrl-C, so a judge server started here is stopped."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in DELEGATED:
        return importlib.import_module(DELEGATED[args[0]][0]).main(args[1:]) or 0
    if threading.current_thread() is not threading.main_thread():
        return _main(argv)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("interrupted: every finished judgment is in the cache; rerun the same command to continue",
              file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


@cli_main  # a bad config or input file (ConfigError, InputError: ValueErrors), a missing file: rc 2, one line
def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    apply_safe_env()
    cfg = load_config(args.judge, base_url=args.judge_base_url, model=args.judge_model,
                      verdict_mode=args.verdict_mode, concurrency=args.concurrency,
                      sanitize_answers=False if args.no_sanitize else None)
    t0 = time.perf_counter()
    try:
        with judge_endpoint(cfg) as server:  # started on the first cache miss only
            client = JudgeClient(cfg, cache_path=args.cache, endpoint=server)
            run = Run(client=client, eval_path=args.eval, baseline=args.baseline, candidate=args.candidate,
                             out_dir=args.out_dir, rubric_dir=args.rubric_dir, limit=args.limit,
                             ids=[x.strip() for x in args.ids.split(",") if x.strip()] if args.ids else None,
                             seed=args.seed, resamples=args.resamples, progress=not args.no_progress,
                             injection_n=getattr(args, "n", 10), rubric_limit=args.rubric_limit,
                             label_split=args.label_split,
                             injection_attacks=[x.strip() for x in args.attacks.split(",") if x.strip()]
                             if getattr(args, "attacks", None) else None)
            result = dispatch(args.command, run)
            client.close()
    except (ServerStartError, VllmServerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except JudgeUnreachableError as exc:
        print(f"error: the judge endpoint refused the connection: {exc}\nstart the judge server or fix "
              "--judge-base-url (or base_url in the config), then rerun the same command: every finished "
              "judgment is in the cache", file=sys.stderr)
        return 1
    usage = client.report()
    usage["wall_s"] = round(time.perf_counter() - t0, 1)
    usage["cache_file"] = str(client.cache.path)
    result["judge_usage"] = usage
    result["command"] = " ".join(["python judge/run.py", *(argv if argv is not None else sys.argv[1:])])
    out = args.out_dir / ("judge_summary.json" if args.command == "all"
                          else f"judgments/{args.command}-{cfg.name}.summary.json")
    write_json(out, result)
    print(json.dumps(brief(args.command, result), indent=2))
    print(f"wrote {out}; judge calls {usage['calls']}, cache hits {usage['cache_hits']}, "
          f"tokens {usage['prompt_tokens']}+{usage['completion_tokens']}, {usage['wall_s']} s", file=sys.stderr)
    unparseable, failed = count(result, "n_unparseable"), count(result, "n_failed")
    if unparseable:
        warn(f"{unparseable} verdict(s) unparseable after one repair request: recorded and counted, "
                    "excluded from the rates (see n_unparseable)")
    if failed:
        warn(f"{failed} judgment(s) failed after every retry: rerun the same command to retry only those")
    return 1 if failed else 0


def dispatch(command: str, run: Run) -> dict:
    if command == "pairwise":
        return evaluate.do_pairwise(run)
    if command == "hallucination":
        return evaluate.do_hallucination(run)[0]
    if command == "injection":
        return evaluate.do_injection(run)
    if command == "calibrate":
        calib = evaluate.do_calibrate(run)
        evaluate.write_calibration(run, calib)
    else:
        summary, calib = evaluate.do_all(run)
    # one copy per verdict mode, so `calibrate --verdict-mode json` and `... logprobs` can be compared
    write_json(run.judgments_dir / f"calibration-{run.judge}-{run.cfg.verdict_mode}.json", calib)
    warn_uncalibrated(calib["calibrated"])
    return calib if command == "calibrate" else summary


def warn_uncalibrated(calibrated: dict[str, bool]) -> None:
    bad = [k for k, ok in calibrated.items() if not ok]
    if bad:
        loud_warning([f"UNCALIBRATED: the judge's agreement with the human rubric is below kappa 0.4 "
                             f"(or unmeasured) for: {', '.join(bad)}.",
                             "Treat these judge numbers as uncalibrated; results are marked so."])


def count(result: dict, key: str) -> int:
    """Sum of ``key`` counters anywhere in the result (nested sections included)."""
    n = 0
    for k, value in result.items():
        if k == key and isinstance(value, int):
            n += value
        elif isinstance(value, dict):
            n += count(value, key)
    return n


def brief(command: str, result: dict) -> dict:
    """A short view for the terminal (the file holds everything)."""
    def trim(x):
        if isinstance(x, dict):
            return {k: trim(v) for k, v in x.items()
                    if k not in ("truth_binary", "judge_binary", "records", "confusion_axes", "labels", "errors")}
        return x
    return trim(result)


if __name__ == "__main__":
    sys.exit(main())
