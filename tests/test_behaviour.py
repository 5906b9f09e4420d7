"""The judge-free behaviour detectors on labelled examples, and the summary's paired statistics."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from supportbot import behaviour as bh

ROOT = Path(__file__).resolve().parents[1]

# (answer, escalates?) written for this test: phrasings seen in base/tuned answers and training data
ESCALATION_EXAMPLES = [
    ("I'm sorry, I don't have that information. If you'd like, I can escalate your question to a human agent.", True),
    ("I don't have information about an HV-4, and I can't confirm a release date.", True),
    ("Skylark has not published an end-of-support date for the SR-300.", True),
    ("I can open a ticket and pass it on to our tier 2 team, who reply within 2 business days.", True),
    ("Please contact Skylark support so a support agent can check your order.", True),
    ("I'm not sure, so I'd rather not guess.", True),
    ("I'm sorry, I can't help with that.", True),
    ("Sorry, I cannot assist with this request.", True),
    ("I'm unable to help with that.", True),
    ("I can't help with everything, but here is how to reset the router: hold the button for 10 seconds.", False),
    ("If the app can't help with that, reset the router from its web page.", False),
    ("The official end-of-support date for the SR-300 is 2023-01-01.", False),
    ("Yes, you can install Docker on the HV-2 and run Plex in a container.", False),
    ("Restart the router and wait for the LED to turn white.", False),
    ("The HV-4 is a 2-bay NAS available for $200.", False),
]

QUESTION_EXAMPLES = [
    ("Which printer model do you have, and is it on USB or Wi-Fi?", True),
    ("Could you tell me the exact error code? Then I can help.", True),
    ("Run `ls -la | grep '?'` in the terminal.", False),
    ("Open Settings > Wi-Fi and tap Forget.", False),
    ('He asked "why?" and left.', True),
]


@pytest.mark.parametrize(("text", "expected"), ESCALATION_EXAMPLES)
def test_escalation_detector(text: str, expected: bool) -> None:
    assert bh.escalates(text) is expected


@pytest.mark.parametrize(("text", "expected"), QUESTION_EXAMPLES)
def test_question_detector(text: str, expected: bool) -> None:
    assert bh.asks_question(text) is expected


def test_code_block_question_marks_are_ignored() -> None:
    assert not bh.asks_question("Run this:\n```\nfind . -name '*.txt?'\n```\nThen restart.")


def test_loop_detector() -> None:
    looping = "The SM-20 is a 2000MHz SM-20, which means it can handle 2000MHz Wi-Fi signals. " * 4
    fine = ("Open the Skylark Home app, go to Devices, choose the SR-300 and tap Restart. "
            "If the LED stays amber for more than five minutes, check the cable between modem and router.")
    assert bh.loops(looping) and bh.unique_ngram_share(looping) < 0.7
    assert not bh.loops(fine) and bh.unique_ngram_share(fine) == 1.0
    assert bh.unique_ngram_share("too short") == 1.0


def test_fact_stated_uses_content_words_and_keeps_versions_whole() -> None:
    fact = "Downgrading below firmware 2.3.0 is not possible"
    assert bh.fact_stated(fact, "You cannot downgrade the firmware below 2.3.0.")  # downgrad(e|ing), firmware, 2.3.0
    assert not bh.fact_stated(fact, "You can roll it back to 2.2.5 from the firmware page.")
    assert not bh.fact_stated(fact, "")
    assert "2.3.0" in bh.content_words(fact) and "is" not in bh.content_words(fact)


def test_references_state_their_own_key_facts_and_not_others() -> None:
    """The detector's own sanity check: each reference states most of its key facts, another item's reference almost none."""
    rows = [json.loads(line) for line in (ROOT / "data/eval.jsonl").read_text().splitlines()]
    own, other = [], []
    for i, r in enumerate(rows):
        shifted = rows[(i + 7) % len(rows)]["reference_answer"]
        for f in r["key_facts"] if r["answerable"] else []:
            own.append(bh.fact_stated(f, r["reference_answer"]))
            other.append(bh.fact_stated(f, shifted))
    assert sum(own) / len(own) > 0.85
    assert sum(other) / len(other) < 0.05


def test_measure_counts_length_stops_and_facts() -> None:
    b = bh.measure("Hold the reset button for 10 seconds.", finish_reason="length",
                   key_facts=["Hold the reset button for 10 seconds", "The LED blinks green during an update"])
    assert b.hit_max_tokens and b.key_facts_stated == 1 and b.key_fact_recall == 0.5


def _answers(path: Path, rows: list[tuple[str, str, str]]) -> None:
    path.write_text("".join(json.dumps({"id": i, "answer": a, "finish_reason": f}) + "\n" for i, a, f in rows))


def test_behaviour_cli_writes_paired_differences(tmp_path: Path) -> None:
    ev = tmp_path / "eval.jsonl"
    items = [
        {"id": "p1", "domain": "product", "answerable": True, "messages": [{"role": "user", "content": "reset?"}],
         "reference_answer": "Hold reset 10 seconds.", "key_facts": ["Hold the reset button for 10 seconds"]},
        {"id": "u1", "domain": "product", "answerable": False, "messages": [{"role": "user", "content": "Wi-Fi 7?"}],
         "reference_answer": "I don't have that information; I can escalate.", "key_facts": []},
        {"id": "i1", "domain": "it", "answerable": True, "messages": [{"role": "user", "content": "printer"}],
         "reference_answer": "Which model is it?", "key_facts": ["Ask for the printer model"]},
    ]
    ev.write_text("".join(json.dumps(r) + "\n" for r in items))
    _answers(tmp_path / "base.jsonl", [("p1", "Unplug it. " * 30, "length"), ("u1", "Yes, firmware 3.0 adds it.", "stop"),
                                       ("i1", "Restart it.", "stop")])
    _answers(tmp_path / "tuned.jsonl", [("p1", "Hold the reset button for 10 seconds.", "stop"),
                                        ("u1", "I'm sorry, I don't have that information.", "stop"),
                                        ("i1", "Which printer model do you have?", "stop")])
    out = tmp_path / "behaviour.json"
    proc = subprocess.run([sys.executable, "eval/behaviour.py", "--eval", str(ev), "--answers", f"base={tmp_path / 'base.jsonl'}",
                           "--answers", f"tuned={tmp_path / 'tuned.jsonl'}", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(out.read_text())
    base, tuned = res["models"]["base"], res["models"]["tuned"]
    assert base["loop_rate"]["estimate"] == pytest.approx(1 / 3) and tuned["loop_rate"]["estimate"] == 0
    assert base["escalation_rate_unanswerable"]["estimate"] == 0 and tuned["escalation_rate_unanswerable"]["estimate"] == 1
    assert tuned["clarify_rate"]["estimate"] == 1 and tuned["clarify_rate"]["n"] == 1
    assert tuned["key_fact_recall"]["product"]["estimate"] == 1 and base["key_fact_recall"]["product"]["estimate"] == 0
    assert res["differences"]["tuned_minus_base"]["max_tokens_rate"]["estimate"] == pytest.approx(-1 / 3)


def test_behaviour_cli_refuses_a_missing_answer(tmp_path: Path) -> None:
    ev = tmp_path / "eval.jsonl"
    ev.write_text(json.dumps({"id": "a", "domain": "it", "answerable": True, "messages": [], "reference_answer": "x",
                              "key_facts": []}) + "\n")
    _answers(tmp_path / "m.jsonl", [])
    proc = subprocess.run([sys.executable, "eval/behaviour.py", "--eval", str(ev), "--answers", f"m={tmp_path / 'm.jsonl'}",
                           "--out", str(tmp_path / "o.json")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0 and "no answer for 1 eval item" in proc.stderr
