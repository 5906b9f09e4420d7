"""Every Axolotl YAML passes Axolotl's own validator (no training), with the capabilities of its target."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from supportbot.paths import CONFIGS_DIR

CONFIGS = sorted(CONFIGS_DIR.glob("*.yml"))
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


def test_cpu_config_has_every_cpu_key():
    raw, cfg = _validate(CONFIGS_DIR / "smollm2-135m-lora-cpu.yml")
    for key, value in CPU_KEYS.items():
        assert raw.get(key) == value, key
    assert cfg.fp16 is False and cfg.bf16 is False  # `bf16: auto` silently became fp16 on CPU
    assert cfg.adapter == "lora" and cfg.lora_target_linear is True


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
