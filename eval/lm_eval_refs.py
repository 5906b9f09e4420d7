#!/usr/bin/env python
"""Judge-free comparison with lm-eval: bits per byte of the reference answers under each model.

    python eval/lm_eval_refs.py --model base=models/smollm2-135m-instruct \
        --model tuned=outputs/smollm2-135m-lora-cpu/merged --out results/lm_eval.json

Renders every item of data/eval.jsonl (support system prompt + conversation, the model's chat
template, generation prompt) with its reference answer as the target into outputs/lm_eval/refs.jsonl,
then runs the lm-eval task `supportbot_reference_bpb` (eval/lm_eval_tasks/) on each local model
folder with lm_eval's `hf` backend. Lower bits per byte = the reference answers are more likely
under the model. Local folders only; nothing is fetched.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from supportbot.cli_args import positive_int
from supportbot.cli_errors import cli_main
from supportbot.jsonl import read_jsonl, write_jsonl
from supportbot.paths import DATA_DIR, RESULTS_DIR, load_prompt
from supportbot.provenance import write_result
from supportbot.runtime_env import apply_safe_env

ROOT = Path(__file__).resolve().parents[1]

TASK = "supportbot_reference_bpb"
TASK_DIR = ROOT / "eval" / "lm_eval_tasks"
REFS = ROOT / "outputs" / "lm_eval" / "refs.jsonl"


def render_refs(eval_file: Path, tokenizer_dir: Path, out: Path = REFS) -> int:
    """Write the task's data file (prompt, target) from the eval set; returns the row count."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    system = {"role": "system", "content": load_prompt("support_system")}
    rows = []
    for item in read_jsonl(eval_file):
        prompt = tok.apply_chat_template([system, *item["messages"]], tokenize=False, add_generation_prompt=True)
        rows.append({"id": item["id"], "domain": item["domain"], "prompt": prompt, "target": item["reference_answer"].strip()})
    write_jsonl(out, rows)
    return len(rows)


def evaluate(model_dir: Path, limit: int | None, batch_size: int) -> dict:
    """Run the task on one local folder; returns bits per byte and its stderr."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    started = time.time()
    out = simple_evaluate(
        model="hf", model_args={"pretrained": str(model_dir), "dtype": "float32", "trust_remote_code": False},
        tasks=[TASK], task_manager=TaskManager(include_path=str(TASK_DIR)), batch_size=batch_size,
        device="cpu", limit=limit, log_samples=False, bootstrap_iters=1000,
    )
    res = out["results"][TASK]
    return {
        "model_dir": str(model_dir),
        "bits_per_byte": res["ref_bits_per_byte,none"],
        "stderr": res.get("ref_bits_per_byte_stderr,none"),
        "n": out["n-samples"][TASK]["effective"],
        "seconds": round(time.time() - started, 1),
    }


@cli_main  # unreadable/bad input files: "error: file: problem", rc 2 (supportbot.cli_errors)
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, metavar="NAME=DIR", help="model name and local folder (repeat)")
    parser.add_argument("--eval", type=Path, default=DATA_DIR / "eval.jsonl")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "lm_eval.json")
    parser.add_argument("--limit", type=positive_int, help="only the first N items (smoke runs)")
    parser.add_argument("--batch-size", type=positive_int, default=4)
    args = parser.parse_args(argv)
    apply_safe_env()
    models = {}
    for spec in args.model:
        name, sep, folder = spec.partition("=")
        if not sep or not Path(folder).is_dir():
            parser.error(f"--model {spec!r}: expected NAME=DIR with an existing folder")
        models[name] = Path(folder)
    n = render_refs(args.eval, next(iter(models.values())))
    print(f"rendered {n} reference prompts -> {REFS}")
    results = {}
    for name, folder in models.items():
        print(f"lm_eval {TASK} on {name} ({folder})…", flush=True)
        results[name] = evaluate(folder, args.limit, args.batch_size)
        print(f"  bits per byte = {results[name]['bits_per_byte']:.4f}", flush=True)
    payload = {
        "task": TASK,
        "metric": "bits per UTF-8 byte of the reference answers given the conversation (lower is better)",
        "eval_file": str(args.eval),
        "limit": args.limit,
        "models": results,
        "command": "python eval/lm_eval_refs.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    return write_result(args.out, payload)


if __name__ == "__main__":
    raise SystemExit(main())
