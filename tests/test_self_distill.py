"""Self-distilled targets (supportbot.data.self_distill, tools/self_distill.py): which replies are rewritten,
the request, when a rewrite may replace its reference, and the rewritten file."""

from __future__ import annotations

from pathlib import Path

import pytest

from supportbot.data.self_distill import (
    Target,
    apply_rewrites,
    fact_tokens,
    rejection_reasons,
    request_messages,
    targets,
)
from supportbot.jsonl import read_jsonl
from supportbot.paths import DATA_DIR, load_prompt
from supportbot.provenance import sha256_text

SYSTEM = {"role": "system", "content": "You are the support assistant."}


def _row(rid: str, *turns: tuple[str, str]) -> dict:
    return {"id": rid, "domain": "it", "messages": [SYSTEM, *({"role": r, "content": c} for r, c in turns)]}


ROWS = [
    _row("a#1", ("user", "Wifi drops?"), ("assistant", "Which router is it?"), ("user", "SR-300"),
         ("assistant", "Update the SR-300 to firmware 2.1.4 and restart it.")),
    _row("a#2", ("user", "My wifi keeps dropping"), ("assistant", "Which router is it?"), ("user", "the SR-300"),
         ("assistant", "Update the SR-300 to firmware 2.1.4 and restart it.")),
    _row("b#1", ("user", "Refund please"), ("assistant", "I can't do refunds; I can escalate to a support agent.")),
]


def test_targets_are_distinct_replies_with_first_context() -> None:
    ts = targets(ROWS)
    assert [t.reference for t in ts] == ["Which router is it?", "Update the SR-300 to firmware 2.1.4 and restart it.",
                                         "I can't do refunds; I can escalate to a support agent."]
    assert ts[1].context[-1] == {"role": "user", "content": "SR-300"}  # the first row that holds the reply
    assert ts[1].key == sha256_text(ts[1].reference)


def test_request_puts_the_reference_in_the_system_prompt_and_keeps_the_turns() -> None:
    t = targets(ROWS)[1]
    msgs = request_messages(t, load_prompt("self_distill"))
    assert msgs[0]["role"] == "system" and msgs[0]["content"].startswith(SYSTEM["content"])
    assert t.reference in msgs[0]["content"] and "{" not in msgs[0]["content"]
    assert msgs[1:] == t.context[1:] and msgs[-1] == {"role": "user", "content": "SR-300"}
    with pytest.raises(ValueError, match="needs a system prompt first"):
        request_messages(Target(key="k", context=[SYSTEM], reference="x"), "{reference}")
    with pytest.raises(ValueError, match="needs a system prompt first"):
        request_messages(Target(key="k", context=t.context[1:], reference="x"), "{reference}")


def test_fact_tokens() -> None:
    assert fact_tokens("Press 1. Update SR-300 to 2.1.4; free 20 GB; error 0x800f0922") == {
        "sr-300", "2.1.4", "20", "0x800f0922"}


@pytest.mark.parametrize("reference,rewrite,finish,expected", [
    ("Update the SR-300 to 2.1.4.", "Please update your SR-300 to version 2.1.4.", "stop", []),
    ("Update the SR-300 to 2.1.4.", "Please update your router.", "stop",
     ["lost a number, version or model name", "dropped content"]),
    ("Which router is it?", "Could you tell me which router you have?", "stop", []),
    ("Which router is it?", "Restart the router.", "stop", ["question behaviour changed"]),
    ("I can't do refunds; I can escalate to a support agent.", "Refunds are easy: click Refund.", "stop",
     ["escalation behaviour changed", "dropped content"]),
    ("Restart it.", "Restart it and then", "length", ["stopped at max_tokens"]),
    ("Restart it.", "  ", "stop", ["empty", "dropped content"]),
    ("Open Settings > Network > Reset and restart the router afterwards.", "Open Settings.", "stop",
     ["dropped content"]),
])
def test_rejection_reasons(reference: str, rewrite: str, finish: str, expected: list[str]) -> None:
    assert rejection_reasons(reference, rewrite, finish) == expected


def test_apply_rewrites_replaces_every_copy_and_nothing_else() -> None:
    ref = "Update the SR-300 to firmware 2.1.4 and restart it."
    out = apply_rewrites(ROWS, {sha256_text(ref): "Put firmware 2.1.4 on the SR-300, then restart it."})
    assert [m["content"] for r in out for m in r["messages"]].count(ref) == 0
    assert sum(m["content"].startswith("Put firmware") for r in out for m in r["messages"]) == 2
    assert out[2] == ROWS[2] and [r["id"] for r in out] == ["a#1", "a#2", "b#1"]
    assert ROWS[0]["messages"][-1]["content"] == ref  # input not changed


def test_shipped_distilled_file_matches_its_source() -> None:
    """data/variants/train_fixed_distill.jsonl: same rows, ids and user turns as its source; every assistant
    reply is either the reference or a rewrite that passes the acceptance rule's fact check."""
    src = read_jsonl(DATA_DIR / "variants" / "train_fixed_dedup.jsonl")
    path = DATA_DIR / "variants" / "train_fixed_distill.jsonl"
    got = read_jsonl(path)
    assert [r["id"] for r in got] == [r["id"] for r in src]
    changed = 0
    for a, b in zip(src, got, strict=True):
        assert [m["role"] for m in a["messages"]] == [m["role"] for m in b["messages"]]
        for ma, mb in zip(a["messages"], b["messages"], strict=True):
            if ma["role"] != "assistant":
                assert ma == mb
            elif ma["content"] != mb["content"]:
                changed += 1
                assert fact_tokens(ma["content"]) <= fact_tokens(mb["content"]), (a["id"], mb["content"])
    assert changed > 0


def test_cli_needs_a_readable_data_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import tools.self_distill as tool

    bad = tmp_path / "train.jsonl"
    bad.write_text('{"messages": []}\nnot json\n')
    rc = tool.main(["--data", str(bad), "--out", str(tmp_path / "o.jsonl"), "--base-url", "http://127.0.0.1:9/v1"])
    assert rc == 2 and not (tmp_path / "o.jsonl").exists()
    assert "train.jsonl:2" in capsys.readouterr().err
