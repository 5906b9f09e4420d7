"""Every Axolotl YAML passes Axolotl's own validator (no training), with the capabilities of its target;
the CPU configs fit the data, and the Qwen2.5-Coder-0.5B CPU config really trains (a tiny run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from supportbot.jsonl import read_jsonl, write_jsonl
from supportbot.paths import CONFIGS_DIR, DATA_DIR, ROOT
from supportbot.provenance import cpu_bf16_flags
from supportbot.training.derived_config import write_derived_config

CONFIGS = sorted(CONFIGS_DIR.glob("*.yml"))
CPU_CONFIGS = [p for p in CONFIGS if p.stem.endswith("-cpu")]
QWEN05_CPU = CONFIGS_DIR / "qwen2.5-coder-0.5b-lora-cpu.yml"
CPU_KEYS = {
    "bf16": False, "fp16": False, "tf32": False, "flash_attention": False, "lora_mlp_kernel": False,
    "lora_qkv_kernel": False, "lora_o_kernel": False, "lora_embedding_kernel": False,
}
# What a user's GPU machine reports (Ampere or newer); CI has no GPU.
GPU_CAPS = {"bf16": True, "fp8": False, "tf32": True, "n_gpu": 1, "compute_capability": "sm_90"}


def _validate(path: Path):
    from axolotl.cli.config import gpu_capabilities
    from axolotl.utils.config import validate_config
    from axolotl.utils.dict import DictDefault

    raw = yaml.safe_load(path.read_text())
    if "cpu" in path.stem:
        caps, env_caps = gpu_capabilities()
    else:
        caps, env_caps = dict(GPU_CAPS), gpu_capabilities()[1]
        if raw.get("deepspeed"):
            caps["n_gpu"] = 4
    return raw, validate_config(DictDefault(raw), caps, env_caps)


def test_there_are_cpu_and_gpu_configs():
    names = {p.name for p in CONFIGS}
    assert "smollm2-135m-lora-cpu.yml" in names
    assert "qwen2.5-1.5b-qlora.yml" in names
    assert any("3b" in n for n in names) and any("multigpu" in n for n in names)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_validates(path: Path):
    raw, cfg = _validate(path)
    assert cfg.base_model == raw["base_model"]
    assert cfg.trust_remote_code is False
    assert "supportbot.training.axolotl_plugin.RunManifestPlugin" in raw["plugins"]
    assert raw["datasets"][0]["path"] == "data/train.jsonl"
    assert raw["test_datasets"][0]["path"] == "data/dev.jsonl"
    assert cfg.seed == 42
    assert cfg.use_tensorboard is True
    if raw.get("deepspeed"):
        assert (CONFIGS_DIR.parent / raw["deepspeed"]).is_file()


@pytest.mark.parametrize("path", CPU_CONFIGS, ids=lambda p: p.name)
def test_cpu_config_has_every_cpu_key(path: Path):
    raw, cfg = _validate(path)
    for key, value in CPU_KEYS.items():
        assert raw.get(key) == value, key
    assert cfg.fp16 is False and cfg.bf16 is False  # `bf16: auto` silently became fp16 on CPU
    assert cfg.adapter == "lora" and cfg.lora_target_linear is True
    # bf16 only through the plugin (autocast where the CPU has native bf16), fp32 elsewhere
    assert "supportbot.training.cpu_precision.CpuPrecisionPlugin" in raw["plugins"] and raw["cpu_bf16"] == "auto"
    assert raw["dataloader_num_workers"] == 0


def test_qwen05_cpu_config_trains_the_bootstrapped_folder():
    """The 0.5B config trains the folder scripts/bootstrap_judge.py writes (one folder for judge and base)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import bootstrap_judge

    raw, cfg = _validate(QWEN05_CPU)
    assert bootstrap_judge.DEFAULT_MODEL == "qwen2.5-coder-0.5b"
    assert (ROOT / raw["base_model"]).resolve() == (bootstrap_judge.MODELS_DIR / bootstrap_judge.DEFAULT_MODEL).resolve()
    assert raw["chat_template"] == "tokenizer_default"  # the folder's (Qwen's) template, the one vLLM serves
    # a moderate starting recipe: the pilot at lr 1e-3 forgot general IT knowledge
    assert 16 <= cfg.lora_r <= 32 and cfg.lora_alpha == 2 * cfg.lora_r
    assert 1e-4 <= cfg.learning_rate <= 2e-4
    assert raw["output_dir"] == f"outputs/{QWEN05_CPU.stem}"


def _row_tokens(tokenizer, row: dict) -> int:
    text = tokenizer.apply_chat_template(row["messages"], tokenize=False)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


@pytest.mark.slow
@pytest.mark.parametrize("path", CPU_CONFIGS, ids=lambda p: p.name)
def test_cpu_config_sequence_len_fits_every_row(path: Path):
    """No training or dev row is cut at sequence_len (Axolotl would truncate it silently)."""
    from transformers import AutoTokenizer

    raw = yaml.safe_load(path.read_text())
    folder = ROOT / raw["base_model"]
    if not (folder / "tokenizer_config.json").is_file():
        pytest.fail(f"{folder} is missing: run `make setup` (scripts/bootstrap_*.py)")
    tok = AutoTokenizer.from_pretrained(folder)
    for name in (raw["datasets"][0]["path"], raw["test_datasets"][0]["path"]):
        rows = read_jsonl(ROOT / name)
        longest = max(range(len(rows)), key=lambda i: _row_tokens(tok, rows[i]))
        n = _row_tokens(tok, rows[longest])
        assert 100 < n <= raw["sequence_len"], f"{name} line {longest + 1}: {n} tokens > sequence_len {raw['sequence_len']}"


@pytest.mark.slow
def test_qwen05_cpu_config_really_trains(tmp_path: Path):
    """Two optimizer steps of the 0.5B config through the documented entry point (scripts/train.py):
    an adapter on every linear layer, the precision the plugin picks for this CPU, a sane first loss."""
    rows = read_jsonl(DATA_DIR / "train.jsonl")[:4]
    write_jsonl(tmp_path / "train.jsonl", rows)
    config = write_derived_config(
        QWEN05_CPU, tmp_path / "tiny.yml", train_path=tmp_path / "train.jsonl",
        drop=("test_datasets", "num_epochs", "eval_steps"), output_dir=str(tmp_path / "out"),
        dataset_prepared_path=str(tmp_path / "prepared"), max_steps=2, micro_batch_size=1,
        gradient_accumulation_steps=1, sequence_len=512, val_set_size=0.0, warmup_steps=0, logging_steps=1,
        saves_per_epoch=None, save_steps=100000, use_tensorboard=False,
    )
    env = dict(os.environ, SUPPORTBOT_NO_RESULTS_ROW="1")
    proc = subprocess.run([sys.executable, "scripts/train.py", str(config)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    out = tmp_path / "out"
    manifest = json.loads((out / "run_manifest.json").read_text())
    assert manifest["global_steps"] == 2 and manifest["tokens_trained"] > 400
    assert manifest["precision"] == ("bf16" if cpu_bf16_flags() else "fp32")
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert adapter["r"] == 16 and set(adapter["target_modules"]) >= {"q_proj", "k_proj", "v_proj", "o_proj",
                                                                       "gate_proj", "up_proj", "down_proj"}
    from safetensors import safe_open

    with safe_open(str(out / "adapter_model.safetensors"), "pt") as fh:
        assert sum(".lora_A." in k for k in fh.keys()) == 24 * 7  # 24 layers x 7 linear modules
    # an instruct model on chat rows: loss of a few nats; a broken template or label mask shows as 0, nan or >> 5
    curve = manifest["train_loss_curve"]
    assert [step for step, _ in curve] == [1, 2], curve
    assert all(0.3 < loss < 5.0 for _, loss in curve), curve


def test_gpu_qlora_config_is_4bit():
    raw, cfg = _validate(CONFIGS_DIR / "qwen2.5-1.5b-qlora.yml")
    assert cfg.load_in_4bit is True and cfg.adapter == "qlora"
    assert raw["attn_implementation"] == "flash_attention_2" and raw["sample_packing"] is True


def test_invalid_config_is_rejected(tmp_path: Path):
    from pydantic import ValidationError

    raw = yaml.safe_load((CONFIGS_DIR / "smollm2-135m-lora-cpu.yml").read_text())
    raw["micro_batch_size"] = "four"
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValidationError, match="micro_batch_size"):
        _validate(bad)
