"""Resuming answers: rows made with other settings or other weights are refused, not mixed in."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from supportbot.generation import Decoding, OutputMismatchError, load_done


def _write(path: Path, **extra) -> None:
    row = {"id": "q1", "answer": "hi", "model": "tuned", "decoding": asdict(Decoding()), "system_prompt_sha256": "s"}
    path.write_text(json.dumps(row | extra) + "\n")


def test_same_settings_resume(tmp_path: Path):
    out = tmp_path / "a.jsonl"
    _write(out, model_fingerprint="abc")
    assert list(load_done(out, model="tuned", decoding=Decoding(), system_sha="s", fingerprint="abc")) == ["q1"]


def test_other_weights_are_refused_with_file_and_line(tmp_path: Path):
    out = tmp_path / "a.jsonl"
    _write(out, model_fingerprint="old")
    with pytest.raises(OutputMismatchError, match=r"a\.jsonl:1: .*model_fingerprint='old'"):
        load_done(out, model="tuned", decoding=Decoding(), system_sha="s", fingerprint="new")


def test_other_system_prompt_is_refused(tmp_path: Path):
    out = tmp_path / "a.jsonl"
    _write(out)
    with pytest.raises(OutputMismatchError, match="system_prompt_sha256"):
        load_done(out, model="tuned", decoding=Decoding(), system_sha="other")



def test_pending_items_are_the_unanswered_ones(tmp_path: Path):
    from supportbot.generation import SYSTEM_PROMPT_NAME, EvalItem, load_prompt, pending_items, sha256_text

    out = tmp_path / "a.jsonl"
    _write(out, model_fingerprint="abc", system_prompt_sha256=sha256_text(load_prompt(SYSTEM_PROMPT_NAME)))
    items = [EvalItem(id=i, messages=[{"role": "user", "content": "q"}], line=n) for n, i in enumerate(("q1", "q2"), 1)]
    assert [it.id for it in pending_items(items, out, model="tuned", fingerprint="abc")] == ["q2"]
    assert pending_items(items[:1], out, model="tuned", fingerprint="abc") == []
