#!/usr/bin/env python
"""Training throughput: Axolotl vs a plain PyTorch + PEFT loop, fp32 and bf16, side by side in one run.

    python tools/bench_train.py                 # the CPU default config -> results/bench_train.json
    python tools/bench_train.py --steps 6 --rows 96
    python tools/bench_train.py --config qwen2.5-coder-0.5b-lora-cpu --steps 4 --rows 32

The result file holds one entry per Axolotl config (``models.<config name>``); a run replaces its own
config's entry and keeps the others. Compare ratios only within an entry: each is its own run, on the
machine and load it recorded (1-minute load average before and after each run; other processes on the
cores slow every cell). Same base model, same rows of data/train.jsonl, same LoRA (rank, alpha, all linear layers), same
micro-batch, gradient accumulation, sequence length and optimizer; no evaluation, no packing; both
on all cores (OMP_NUM_THREADS = cores). Axolotl runs through the documented entry point
(scripts/train.py -> accelerate launch) with the CPU default config, its precision forced by the
config key ``cpu_bf16`` (false: fp32; true: bf16 autocast, what ``auto`` picks on CPUs with
avx512_bf16/amx_bf16); the plain loop uses ``torch.autocast("cpu", dtype=torch.bfloat16)`` for bf16.
On a CPU without native bf16 the bf16 runs are skipped (emulated bf16 is slower than fp32) and the
result says so. Tokens are real (non-padding) tokens. Two rates per run: over the whole training
loop (Axolotl: Trainer ``train_runtime``) and "steady" from the end of the first optimizer step to
the end of the last (first-step warm-up, e.g. oneDNN kernel creation, excluded). Runs alternate
Axolotl/plain so drift hits both.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from supportbot.cli_errors import CliError, read_text, run_cli
from supportbot.jsonl import read_jsonl, write_jsonl
from supportbot.paths import CONFIGS_DIR, DATA_DIR, DEFAULT_RECIPE, RESULTS_DIR, repo_relative
from supportbot.provenance import cpu_bf16_flags, git_state, hardware, package_versions, write_result
from supportbot.runtime_env import apply_safe_env
from supportbot.training.derived_config import write_derived_config

ROOT = Path(__file__).resolve().parents[1]


def config_path(name: str) -> Path:
    """An Axolotl YAML given as a path or as a name in axolotl_configs/ (``.yml`` optional)."""
    path = Path(name)
    if not path.is_file():
        path = CONFIGS_DIR / (name if name.endswith(".yml") else f"{name}.yml")
    if not path.is_file():
        raise CliError(f"{name}: no such config (a path, or one of: {', '.join(p.stem for p in sorted(CONFIGS_DIR.glob('*.yml')))})")
    return path


def merge_result(path: Path, name: str, result: dict) -> dict:
    """The result file's per-config entries with ``name``'s replaced by ``result``; a file in the layout
    before per-config entries (one run of the default config) becomes the default config's entry."""
    old = {}
    if path.is_file():
        try:
            old = json.loads(read_text(path))
        except json.JSONDecodeError as exc:
            raise CliError(f"{path}: line {exc.lineno}: not JSON ({exc.msg}); move it away to start a new file") from None
    if "runs" in old:
        old = {"models": {DEFAULT_RECIPE: old}}
    models = dict(old.get("models") or {})
    models[name] = result
    return {"models": dict(sorted(models.items()))}


def run_axolotl(config_file: Path, rows_file: Path, work: Path, steps: int, threads: int, precision: str) -> dict:
    """One Axolotl run of ``steps`` optimizer steps; tokens/s from its run manifest."""
    out = work / f"axolotl-{precision}"
    config = write_derived_config(
        config_file, work / f"bench-{precision}.yml", train_path=rows_file, drop=("test_datasets", "num_epochs", "eval_steps"),
        output_dir=str(out), dataset_prepared_path=str(work / "prepared"), max_steps=steps, val_set_size=0.0,
        evals_per_epoch=None, saves_per_epoch=None, save_steps=100000, logging_steps=1, cpu_bf16=precision == "bf16",
    )
    env = dict(os.environ, SUPPORTBOT_NO_RESULTS_ROW="1", OMP_NUM_THREADS=str(threads))
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/train.py"), str(config)], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"axolotl run failed:\n{proc.stderr[-3000:]}")
    m = json.loads((out / "run_manifest.json").read_text())
    return {"name": f"axolotl {precision}", "trainer": "axolotl", "precision": m.get("precision"), "tokens": m["tokens_trained"],
            "seconds": m["train_runtime_s"], "tokens_per_s": m["tokens_per_s"],
            "steady_tokens_per_s": m.get("steady_tokens_per_s"), "steps": m["global_steps"]}


def run_plain(rows: list[dict], cfg: dict, steps: int, threads: int, seed: int, precision: str) -> dict:
    """The same training with a hand-written loop: PEFT LoRA, AdamW, pad-to-longest micro-batches."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    tok = AutoTokenizer.from_pretrained(cfg["base_model"])
    model = AutoModelForCausalLM.from_pretrained(cfg["base_model"], dtype=torch.float32, attn_implementation="sdpa")
    model = get_peft_model(model, LoraConfig(r=cfg["lora_r"], lora_alpha=cfg["lora_alpha"], lora_dropout=cfg["lora_dropout"],
                                             target_modules="all-linear", task_type="CAUSAL_LM"))
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg["learning_rate"])
    # render the chat template to text, then tokenize: the return type of apply_chat_template(tokenize=True)
    # differs across transformers versions (list, BatchEncoding, tokenizers.Encoding)
    texts = [tok.apply_chat_template(r["messages"], tokenize=False) for r in rows]
    encoded = [tok(t, add_special_tokens=False)["input_ids"][: cfg["sequence_len"]] for t in texts]
    random.Random(seed).shuffle(encoded)
    mbs, ga = cfg["micro_batch_size"], cfg["gradient_accumulation_steps"]
    need = steps * mbs * ga
    stream = (encoded * (need // len(encoded) + 1))[:need]
    def amp():  # bf16 autocast around the forward pass, as the Trainer does
        return torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()

    tokens, started, marks = 0, time.perf_counter(), []
    for step in range(steps):
        for micro in range(ga):
            batch = stream[(step * ga + micro) * mbs:(step * ga + micro + 1) * mbs]
            width = max(len(x) for x in batch)
            ids = torch.full((len(batch), width), tok.pad_token_id)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for i, x in enumerate(batch):
                ids[i, : len(x)] = torch.tensor(x)
                mask[i, : len(x)] = 1
            labels = ids.masked_fill(mask == 0, -100)
            with amp():
                loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss / ga
            loss.backward()
            tokens += int(mask.sum())
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.get("max_grad_norm", 1.0))
        opt.step()
        opt.zero_grad()
        marks.append((time.perf_counter(), tokens))
    seconds = time.perf_counter() - started
    (t0, n0), (t1, n1) = marks[0], marks[-1]
    return {"name": f"plain PyTorch+PEFT {precision}", "trainer": "plain", "precision": precision,
            "tokens": tokens, "seconds": round(seconds, 1), "tokens_per_s": round(tokens / seconds, 1),
            "steady_tokens_per_s": round((n1 - n0) / (t1 - t0), 1) if steps > 1 else None, "steps": steps}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=DEFAULT_RECIPE,
                        help="Axolotl YAML: a path or a name in axolotl_configs/ (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=6, help="optimizer steps per run (default: %(default)s)")
    parser.add_argument("--rows", type=int, default=96, help="rows of data/train.jsonl used (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench_train.json")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    apply_safe_env()
    # the plain loop runs in this process: give it the OpenMP settings scripts/train.py gives Axolotl
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    config_file = config_path(args.config)
    merge_result(args.out, config_file.stem, {})  # an unreadable result file fails now, not after the runs
    cfg = yaml.safe_load(read_text(config_file))
    rows = read_jsonl(DATA_DIR / "train.jsonl")[: args.rows]
    runs = []
    threads = len(os.sched_getaffinity(0))
    flags = cpu_bf16_flags()
    precisions = ["fp32", "bf16"] if flags else ["fp32"]
    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        work = Path(tmp)
        rows_file = work / "rows.jsonl"
        write_jsonl(rows_file, rows)
        for precision in precisions:
            for kind in ("axolotl", "plain"):
                print(f"running {kind} {precision} with {threads} thread(s), {args.steps} steps…", flush=True)
                load_before = os.getloadavg()[0]
                res = (run_axolotl(config_file, rows_file, work, args.steps, threads, precision) if kind == "axolotl"
                       else run_plain(rows, cfg, args.steps, threads, args.seed, precision))
                res["loadavg_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
                print(f"  {res['tokens']} tokens in {res['seconds']} s = {res['tokens_per_s']} tokens/s "
                      f"(steady {res['steady_tokens_per_s']})", flush=True)
                runs.append(res)

    def rate(trainer: str, precision: str, key: str) -> float | None:
        r = next((r for r in runs if r["trainer"] == trainer and r["name"].endswith(precision)), None)
        return r[key] if r else None

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a and b else None

    ratios = {}
    for key in ("tokens_per_s", "steady_tokens_per_s"):
        ratios[key] = {f"axolotl/plain {p}": ratio(rate("axolotl", p, key), rate("plain", p, key)) for p in precisions}
        if "bf16" in precisions:
            for t in ("axolotl", "plain"):
                ratios[key][f"{t} bf16/fp32"] = ratio(rate(t, "bf16", key), rate(t, "fp32", key))
    result = {
        "command": "python tools/bench_train.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "config": repo_relative(config_file),
        "settings": {k: cfg[k] for k in ("base_model", "lora_r", "lora_alpha", "sequence_len", "micro_batch_size",
                                         "gradient_accumulation_steps", "learning_rate", "sample_packing")}
        | {"steps": args.steps, "rows": len(rows), "threads": threads, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
           "dataloader_num_workers": cfg.get("dataloader_num_workers")},
        "native_bf16": {"flags": flags, "note": ("bf16 runs use bf16 autocast" if flags else
                                                "this CPU has no native bf16 (no avx512_bf16/amx_bf16): bf16 not run, fp32 kept")},
        "runs": runs,
        "ratios": ratios,
        "target": "Axolotl bf16 >= 0.9 x the plain bf16 loop",
        "hardware": hardware(),
        "packages": package_versions(),
        "git": git_state(),
    }
    print(json.dumps(result["ratios"], indent=2))
    return write_result(args.out, merge_result(args.out, config_file.stem, result),
                        summary=f"entry models.{config_file.stem}")


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
