"""The experiment's arms, and the pipeline stage that answers the eval questions for them.

    base      the base model                 tuned      the fine-tuned model
    base_kb   base with KB passages          tuned_kb   tuned with KB passages (retrieval on)

An arm is a model folder plus whether retrieval is on; its answers go to ``<results>/answers/<arm>.jsonl``
(eval/generate.py, resumable). Arms that share weights share one server: each model folder is served
once per stage and answers every arm that uses it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from supportbot.generation import Decoding, OutputMismatchError, pending_items, row_kb_settings
from supportbot.jsonl import iter_jsonl
from supportbot.paths import DATA_DIR, ROOT
from supportbot.provenance import sha256_files
from supportbot.records import load_eval
from supportbot.stages import UP_TO_DATE

DECODING_FILE = ROOT / "eval" / "decoding.yaml"
# CPU: 48 requests in flight (results/bench_generate_modes.json)
GENERATE_CONCURRENCY = 48


@dataclass(frozen=True)
class Arm:
    name: str
    weights: str  # "base" or "tuned": which model folder answers
    kb: bool  # KB passages in the prompt (prompts/support_kb.txt)


ARMS: dict[str, Arm] = {a.name: a for a in (
    Arm("base", "base", False), Arm("tuned", "tuned", False), Arm("base_kb", "base", True), Arm("tuned_kb", "tuned", True))}


def judge_results_dir(results: Path, arm: str) -> Path:
    """Where an arm's judge results live: ``results/`` for base and tuned (the main comparison, whose records hold
    both), ``results/arms/<arm>/`` for a retrieval arm judged against base."""
    return results if arm in ("base", "tuned") else results / "arms" / arm


def parse_arms(names: list[str]) -> list[Arm]:
    """The named arms in the canonical order. ``base`` (what every arm is compared with) and ``tuned`` (the
    fine-tuning experiment itself) always run; the choice is which retrieval arms join them."""
    unknown = [n for n in names if n not in ARMS]
    if unknown:
        raise ValueError(f"unknown arm(s) {', '.join(unknown)} (known: {', '.join(ARMS)})")
    missing = [n for n in ("base", "tuned") if n not in names]
    if missing:
        raise ValueError(f"the arms must include {' and '.join(missing)}: base is what every arm is compared with, "
                         "tuned the fine-tuning experiment itself")
    return [a for n, a in ARMS.items() if n in names]


def eval_decoding() -> Decoding:
    """The eval answers' decoding (eval/decoding.yaml), the same for every arm."""
    return Decoding(**yaml.safe_load(DECODING_FILE.read_text()))


def weights_fingerprint(model_dir: Path) -> str:
    """sha256 (first 16 hex digits) of a model folder's safetensors weights."""
    return sha256_files(sorted(model_dir.glob("*.safetensors")))[:16]


def set_aside_stale(out: Path, fingerprint: str, decoding: Decoding, kb_settings: dict | None = None) -> None:
    """Move answers made by other weights (a retrained model), with another decoding or other retrieval settings
    to <name>.stale.jsonl; resume otherwise."""
    first = next((row for _, row in iter_jsonl(out, allow_truncated_tail=True)), None) if out.is_file() else None
    if first is None:
        return
    got_kb = row_kb_settings(first)
    why = (f"other weights ({first.get('model_fingerprint')})" if first.get("model_fingerprint") != fingerprint
           else f"another decoding ({first.get('decoding')})" if first.get("decoding") != dataclasses.asdict(decoding)
           else f"other retrieval settings ({got_kb})" if got_kb != kb_settings else None)
    if why:
        stale = out.with_suffix(".stale.jsonl")
        print(f"  {out} was made by {why}; moved to {stale}", flush=True)
        out.replace(stale)


def all_answered(out: Path, name: str, fingerprint: str, limit: int | None, decoding: Decoding,
                 kb_settings: dict | None = None) -> bool:
    """True when ``out`` already answers every eval item (up to ``limit``) with these weights, this decoding and
    these retrieval settings, so serving the model would only cost a server start."""
    items = load_eval(DATA_DIR / "eval.jsonl")[:limit]
    try:
        return not pending_items(items, out, model=name, fingerprint=fingerprint, decoding=decoding,
                                 kb_settings=kb_settings)
    except OutputMismatchError:  # other settings: eval/generate.py says so, with the file and line
        return False


ServeFn = Callable[[str, Path], contextlib.AbstractContextManager[str]]


def generate_answers(serve: ServeFn, models: dict[str, Path], arms: list[Arm], answers_dir: Path,
                     limit: int | None, kb_settings: Callable[[], dict]) -> str | None:
    """Serve each model folder once (``serve(name, folder)`` yields a /v1 URL) and answer the eval questions
    for every arm that uses it (eval/generate.py, resumable; ``--kb`` for retrieval arms).

    Returns ``UP_TO_DATE`` when every answer was already there (no model served), so the stage timing keeps
    the time of the run that generated them."""
    answers_dir.mkdir(parents=True, exist_ok=True)
    decoding = eval_decoding()
    kb = kb_settings() if any(a.kb for a in arms) else None
    served_any = False
    for weights, model_dir in models.items():
        fingerprint = weights_fingerprint(model_dir)
        todo = []
        for arm in (a for a in arms if a.weights == weights):
            out = answers_dir / f"{arm.name}.jsonl"
            arm_kb = kb if arm.kb else None
            set_aside_stale(out, fingerprint, decoding, arm_kb)
            if all_answered(out, weights, fingerprint, limit, decoding, arm_kb):
                print(f"  {out}: every answer is there, made by these weights ({fingerprint}); not asked again", flush=True)
            else:
                todo.append((arm, out))
        if not todo:
            continue
        served_any = True
        with serve(weights, model_dir) as base_url:
            for arm, out in todo:
                cmd = [sys.executable, "eval/generate.py", "--base-url", base_url, "--model", weights, "--out", str(out),
                       "--concurrency", str(GENERATE_CONCURRENCY), "--model-fingerprint", fingerprint,
                       "--temperature", str(decoding.temperature), "--max-tokens", str(decoding.max_tokens),
                       "--seed", str(decoding.seed), "--repetition-penalty", str(decoding.repetition_penalty),
                       *(["--kb"] if arm.kb else []), *(["--limit", str(limit)] if limit else [])]
                print("  + " + " ".join(cmd), flush=True)
                subprocess.run(cmd, cwd=ROOT, check=True)
    return None if served_any else UP_TO_DATE

