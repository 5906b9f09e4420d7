"""The data card's numbers block must equal what `python -m supportbot.data stats` produces now."""

from __future__ import annotations

import pytest

from supportbot.data.stats import card_block, compute, current_block, replace_block
from supportbot.data.tokens import load_tokenizer
from supportbot.paths import DATA_DIR, DEFAULT_BASE_MODEL_DIR


def test_card_numbers_are_current(base_model_dir) -> None:
    missing = [str(DATA_DIR / f"{n}.jsonl") for n in ("train", "dev", "eval") if not (DATA_DIR / f"{n}.jsonl").is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: run `python -m supportbot.data build`")
    block = card_block(compute(DATA_DIR, load_tokenizer(DEFAULT_BASE_MODEL_DIR)))
    card = (DATA_DIR / "README.md").read_text(encoding="utf-8")
    assert current_block(card) == block, (
        "data/README.md numbers are stale: run `python -m supportbot.data stats --card data/README.md`")


def test_replace_block_only_touches_the_block() -> None:
    card = "intro\n<!-- stats:start -->\nold\n<!-- stats:end -->\noutro\n"
    new = replace_block(card, "<!-- stats:start -->\nNEW\n<!-- stats:end -->", DATA_DIR / "README.md")
    assert new == "intro\n<!-- stats:start -->\nNEW\n<!-- stats:end -->\noutro\n"
