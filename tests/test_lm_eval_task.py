"""The lm-eval reference task agrees with an independent log-likelihood computation."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from supportbot.jsonl import read_jsonl

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "eval_mini.jsonl"

pytestmark = pytest.mark.slow


def _independent_bpb(model_dir: Path, refs: list[dict]) -> float:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    total, nbytes = 0.0, 0
    for row in refs:
        ctx = tok(row["prompt"], add_special_tokens=False).input_ids
        full = tok(row["prompt"] + row["target"], add_special_tokens=False).input_ids
        ids = torch.tensor([full])
        with torch.no_grad():
            logp = torch.log_softmax(model(ids).logits[0, :-1], dim=-1)
        targets = ids[0, 1:]
        total += float(logp[torch.arange(len(ctx) - 1, len(full) - 1), targets[len(ctx) - 1:]].sum())
        nbytes += len(row["target"].encode("utf-8"))
    return -total / nbytes / math.log(2)


def test_lm_eval_bits_per_byte_matches_independent_computation(tmp_path: Path, base_model_dir: Path):
    out = tmp_path / "lm_eval.json"
    proc = subprocess.run(
        [sys.executable, "eval/lm_eval_refs.py", "--model", f"base={base_model_dir}", "--eval", str(FIXTURE), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())["models"]["base"]
    assert result["n"] == len(read_jsonl(FIXTURE))
    refs = read_jsonl(ROOT / "outputs" / "lm_eval" / "refs.jsonl")
    assert all(r["prompt"].endswith("<|im_start|>assistant\n") for r in refs)
    assert result["bits_per_byte"] == pytest.approx(_independent_bpb(base_model_dir, refs), rel=1e-3)


def test_bad_model_argument_is_rejected(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "eval/lm_eval_refs.py", "--model", "base", "--eval", str(FIXTURE)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2 and "expected NAME=DIR" in proc.stderr
