"""The dev-set decoding rule: lowest loop rate, guarded by reference recall and max_tokens stops."""

from __future__ import annotations

from tools import choose_decoding


def row(loop: float, max_tokens: float, recall: float) -> dict:
    return {"loop_rate": loop, "max_tokens_rate": max_tokens, "reference_recall": recall, "n": 40}


# the dev table this repository measured (results/decoding_choice.json), rounded
TABLE = {"base": {"1.0": row(0.45, 0.525, 0.085), "1.15": row(0.0, 0.425, 0.168), "1.3": row(0.0, 1.0, 0.181)},
         "tuned": {"1.0": row(0.05, 0.025, 0.119), "1.15": row(0.0, 0.0, 0.096), "1.3": row(0.0, 0.0, 0.150)}}


def test_rule_v1_trades_loops_for_answers_that_never_end() -> None:
    assert choose_decoding.choose(TABLE, [1.0, 1.15, 1.3], max_tokens_guard=False) == 1.3


def test_rule_v2_guards_max_tokens_and_recall() -> None:
    assert choose_decoding.choose(TABLE, [1.0, 1.15, 1.3]) == 1.0
    ok = {m: {k: dict(v) for k, v in t.items()} for m, t in TABLE.items()}
    ok["tuned"]["1.15"]["reference_recall"] = 0.12  # recall kept: 1.15 ends the base's loops within both guards
    assert choose_decoding.choose(ok, [1.0, 1.15, 1.3]) == 1.15
