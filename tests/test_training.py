"""A real, tiny Axolotl run on a slice of the bundled data: adapter, merge, parity and manifest.

One training run (module fixture) of a few steps through the documented entry point
(`scripts/train.py` -> `accelerate launch -m axolotl.cli.train`, then `axolotl.cli.merge_lora`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from supportbot.jsonl import read_jsonl, write_jsonl
from supportbot.paths import CONFIGS_DIR, DATA_DIR, ROOT
from supportbot.training.derived_config import write_derived_config

pytestmark = pytest.mark.slow

TRAIN_SOURCE = DATA_DIR / "train.jsonl"
DEV_SOURCE = DATA_DIR / "dev.jsonl"
N_TRAIN, N_DEV, STEPS = 48, 8, 10
PROMPTS = [
    "My laptop keeps dropping the Wi-Fi connection. What should I check first?",
    "How do I clear my browser cache?",
    "My printer says it is offline.",
]


def _messages(row: dict) -> list[dict]:
    return row["messages"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, base_model_dir) -> dict:
    work = tmp_path_factory.mktemp("tiny_run")
    for source in (TRAIN_SOURCE, DEV_SOURCE):
        if not source.is_file():
            pytest.fail(f"{source} is missing: run `python -m supportbot.data build`")
    train, dev = read_jsonl(TRAIN_SOURCE)[:N_TRAIN], read_jsonl(DEV_SOURCE)[:N_DEV]
    write_jsonl(work / "train.jsonl", train)
    write_jsonl(work / "dev.jsonl", dev)
    config = write_derived_config(
        CONFIGS_DIR / "smollm2-135m-lora-cpu.yml", work / "tiny.yml",
        train_path=work / "train.jsonl", dev_path=work / "dev.jsonl", drop=("num_epochs",),
        output_dir=str(work / "out"), dataset_prepared_path=str(work / "prepared"), max_steps=STEPS,
        logging_steps=2, evals_per_epoch=None, eval_steps=STEPS, saves_per_epoch=None, save_steps=STEPS,
        learning_rate=0.001,
    )
    env = dict(os.environ, SUPPORTBOT_NO_RESULTS_ROW="1")
    proc = subprocess.run(
        [sys.executable, "scripts/train.py", str(config), "--merge"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=1200,
    )
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    return {"out": work / "out", "dev": dev, "log": proc.stdout + proc.stderr}


def test_adapter_loads_and_beats_base_on_dev_slice(tiny_run, base_model_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from supportbot.training.loss import assistant_nll

    tok = AutoTokenizer.from_pretrained(base_model_dir)
    convs = [_messages(r) for r in tiny_run["dev"]]
    base = AutoModelForCausalLM.from_pretrained(base_model_dir)
    base_loss = assistant_nll(base, tok, convs)
    tuned = PeftModel.from_pretrained(base, tiny_run["out"])
    tuned_loss = assistant_nll(tuned, tok, convs)
    assert tuned_loss < base_loss, (tuned_loss, base_loss)


def test_merged_differs_from_base_and_matches_adapter(tiny_run, base_model_dir):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    merged_dir = tiny_run["out"] / "merged"
    assert (merged_dir / "model.safetensors").is_file()
    tok = AutoTokenizer.from_pretrained(merged_dir)
    merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()
    base = AutoModelForCausalLM.from_pretrained(base_model_dir).eval()
    ids = tok("My printer is offline", return_tensors="pt").input_ids
    with torch.no_grad():
        diff = (merged(ids).logits - base(ids).logits).abs().max().item()
    assert diff > 1e-3, "merged logits equal the base model's: the LoRA was not applied"

    peft_model = PeftModel.from_pretrained(base, tiny_run["out"]).eval()
    for prompt in PROMPTS:
        text = tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)
        enc = tok(text, return_tensors="pt", add_special_tokens=False)
        outs = []
        for model in (peft_model, merged):
            with torch.no_grad():
                gen = model.generate(**enc, max_new_tokens=32, do_sample=False, pad_token_id=tok.pad_token_id)
            outs.append(tok.decode(gen[0, enc.input_ids.shape[1]:], skip_special_tokens=True))
        assert outs[0] == outs[1], f"merge parity broken for {prompt!r}: {outs}"


def test_manifest_has_every_field_with_plausible_values(tiny_run):
    m = json.loads((tiny_run["out"] / "run_manifest.json").read_text())
    assert m["run_name"] == "out" and m["adapter"] == "lora" and m["seed"] == 42
    assert re.fullmatch(r"[0-9a-f]{40}", m["git"]["commit"] or "")
    assert re.fullmatch(r"[0-9a-f]{64}", m["config"]["sha256"])
    assert m["hardware"]["cpu_cores"] >= 1 and m["hardware"]["cpu_model"]
    for pkg in ("torch", "transformers", "peft", "axolotl", "accelerate", "datasets", "python"):
        assert m["packages"][pkg]
    assert m["global_steps"] == STEPS
    assert 0 < m["train_runtime_s"] <= m["wall_time_s"] < 1200
    # real tokens: at most the slice's tokens per pass, and well above zero
    assert 1000 < m["tokens_trained"] < STEPS * 8 * 1024
    assert m["tokens_per_s"] == pytest.approx(m["tokens_trained"] / m["train_runtime_s"], rel=0.01)
    assert 0.3 < m["peak_rss_gb"] < 20
    assert m["peak_gpu_mem_gb"] is None  # CPU run
    assert 0 < m["final_train_loss"] < 10 and 0 < m["final_eval_loss"] < 10
    assert m["train_loss_curve"] and m["eval_loss_curve"]
    assert m["cost"]["usd"] > 0 and m["cost"]["basis"].startswith(f"{m['hardware']['cpu_cores']} CPU core-hours")
