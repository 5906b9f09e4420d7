#!/usr/bin/env python
"""Training throughput: Axolotl's CPU default vs a plain PyTorch + PEFT loop, side by side in one run.

    python scripts/bench_train.py                 # -> results/bench_train.json
    python scripts/bench_train.py --steps 4 --rows 64

Same base model, same rows of data/train.jsonl, same LoRA (rank, alpha, all linear layers), same
micro-batch, gradient accumulation, sequence length and optimizer; no evaluation, no packing.
Axolotl runs through the documented entry point (scripts/train.py -> accelerate launch) with
OMP_NUM_THREADS=2 (our default) and =1 (accelerate's default); the plain loop uses torch's
2 threads. Tokens are real (non-padding) tokens; time is the training loop only, for both
(Axolotl: Trainer `train_runtime`; plain: the loop). Runs alternate so drift hits both.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import yaml  # noqa: E402

from supportbot.jsonl import read_jsonl, write_jsonl  # noqa: E402
from supportbot.paths import CONFIGS_DIR, DATA_DIR, RESULTS_DIR  # noqa: E402
from supportbot.runtime_env import apply_safe_env  # noqa: E402
from supportbot.training import manifest as mf  # noqa: E402
from supportbot.training.derived_config import write_derived_config  # noqa: E402

CONFIG = CONFIGS_DIR / "smollm2-135m-lora-cpu.yml"


def run_axolotl(rows_file: Path, work: Path, steps: int, threads: int) -> dict:
    """One Axolotl run of ``steps`` optimizer steps; tokens/s from its run manifest."""
    out = work / f"axolotl-omp{threads}"
    config = write_derived_config(
        CONFIG, work / f"bench-omp{threads}.yml", train_path=rows_file, drop=("test_datasets", "num_epochs", "eval_steps"),
        output_dir=str(out), dataset_prepared_path=str(work / "prepared"), max_steps=steps, val_set_size=0.0,
        evals_per_epoch=None, saves_per_epoch=None, save_steps=100000, logging_steps=1,
    )
    env = dict(os.environ, SUPPORTBOT_NO_RESULTS_ROW="1", OMP_NUM_THREADS=str(threads))
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/train.py"), str(config)], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"axolotl run failed:\n{proc.stderr[-3000:]}")
    m = json.loads((out / "run_manifest.json").read_text())
    return {"name": f"axolotl (OMP_NUM_THREADS={threads})", "tokens": m["tokens_trained"],
            "seconds": m["train_runtime_s"], "tokens_per_s": m["tokens_per_s"], "steps": m["global_steps"]}


def run_plain(rows: list[dict], cfg: dict, steps: int, threads: int, seed: int) -> dict:
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
    tokens, started = 0, time.perf_counter()
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
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss / ga
            loss.backward()
            tokens += int(mask.sum())
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.get("max_grad_norm", 1.0))
        opt.step()
        opt.zero_grad()
    seconds = time.perf_counter() - started
    return {"name": f"plain PyTorch+PEFT loop ({threads} threads)", "tokens": tokens, "seconds": round(seconds, 1),
            "tokens_per_s": round(tokens / seconds, 1), "steps": steps}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6, help="optimizer steps per run (default: %(default)s)")
    parser.add_argument("--rows", type=int, default=96, help="rows of data/train.jsonl used (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench_train.json")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    apply_safe_env()
    cfg = yaml.safe_load(CONFIG.read_text())
    rows = read_jsonl(DATA_DIR / "train.jsonl")[: args.rows]
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        work = Path(tmp)
        rows_file = work / "rows.jsonl"
        write_jsonl(rows_file, rows)
        plan = [("axolotl", 2), ("plain", 2), ("axolotl", 1)]
        for kind, threads in plan:
            print(f"running {kind} with {threads} thread(s), {args.steps} steps…", flush=True)
            res = run_axolotl(rows_file, work, args.steps, threads) if kind == "axolotl" else run_plain(rows, cfg, args.steps, threads, args.seed)
            print(f"  {res['tokens']} tokens in {res['seconds']} s = {res['tokens_per_s']} tokens/s", flush=True)
            runs.append(res)
    plain = next(r for r in runs if r["name"].startswith("plain"))
    result = {
        "command": "python scripts/bench_train.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "settings": {k: cfg[k] for k in ("base_model", "lora_r", "lora_alpha", "sequence_len", "micro_batch_size",
                                         "gradient_accumulation_steps", "learning_rate", "sample_packing")}
        | {"steps": args.steps, "rows": len(rows)},
        "runs": runs,
        "ratios_vs_plain": {r["name"]: round(r["tokens_per_s"] / plain["tokens_per_s"], 3) for r in runs},
        "target": "Axolotl >= 0.80 x the plain loop",
        "hardware": mf.hardware(),
        "packages": mf.package_versions(),
        "git": mf.git_state(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["ratios_vs_plain"], indent=2))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
