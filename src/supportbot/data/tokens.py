"""Token counting with the default tokenizer's chat template; sequence_len from the CPU config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..paths import DEFAULT_BASE_MODEL_DIR, DEFAULT_TRAIN_CONFIG, load_prompt
from .issues import DataError, Issue

DEFAULT_CONFIG = DEFAULT_TRAIN_CONFIG
DEFAULT_TOKENIZER = DEFAULT_BASE_MODEL_DIR


def config_sequence_len(config: Path = DEFAULT_CONFIG) -> int:
    """``sequence_len`` of an Axolotl config."""
    cfg = yaml.safe_load(config.read_text(encoding="utf-8"))
    if not isinstance(cfg, dict) or not isinstance(cfg.get("sequence_len"), int):
        raise DataError([Issue(str(config), 1, "sequence_len", "missing or not an integer")])
    return cfg["sequence_len"]


def load_tokenizer(folder: Path = DEFAULT_TOKENIZER) -> Any:
    """Load a local tokenizer folder; a missing folder is a clear error, never a silent skip."""
    if not (folder / "tokenizer_config.json").is_file():
        raise DataError([Issue(str(folder), 0, "tokenizer",
                               "tokenizer folder not found (run `python scripts/bootstrap_model.py`, pass "
                               "--tokenizer DIR, or --no-length-check to skip the length check)")])
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)


def measured_messages(row: dict[str, Any]) -> list[dict[str, str]]:
    """The conversation whose length matters: a training row as is; an eval item as system prompt +
    messages + reference answer (what the model reads and writes when answering it)."""
    if "reference_answer" in row:
        return (
            [{"role": "system", "content": load_prompt("support_system")}]
            + list(row["messages"])
            + [{"role": "assistant", "content": row["reference_answer"]}]
        )
    return list(row["messages"])


def count_tokens(tokenizer: Any, conversations: list[list[dict[str, str]]]) -> list[int]:
    """Token count of each conversation rendered with the tokenizer's chat template."""
    texts = [tokenizer.apply_chat_template(c, tokenize=False) for c in conversations]
    if not texts:
        return []
    enc = tokenizer(texts, add_special_tokens=False)
    return [len(ids) for ids in enc["input_ids"]]
