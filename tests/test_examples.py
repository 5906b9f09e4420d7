"""The before/after examples follow the fixed rule: first five ids, largest wins, largest losses."""

from __future__ import annotations

import json
from pathlib import Path

from eval.examples import choose, write_examples


def test_rule_picks_first_five_then_strongest_wins_and_losses():
    ids = [f"q{i}" for i in range(12)]
    pw = {i: {"winner": "tie", "pref_x": 0.0} for i in ids}
    pw.update({"q1": {"winner": "y", "pref_x": -0.9},  # in the first five: not a candidate for the win slots
               "q6": {"winner": "y", "pref_x": -0.2}, "q7": {"winner": "y", "pref_x": -0.5},
               "q8": {"winner": "y", "pref_x": -0.1}, "q9": {"winner": "y", "pref_x": -0.3},
               "q10": {"winner": "x", "pref_x": 0.4}, "q11": {"winner": "x", "pref_x": 0.05}})
    chosen = choose(ids, pw)
    assert [i for i, _ in chosen] == ["q0", "q1", "q2", "q3", "q4", "q7", "q9", "q6", "q10", "q11"]
    assert [why for _, why in chosen][5:] == ["largest tuned wins"] * 3 + ["largest tuned losses"] * 2


def test_json_verdicts_without_strength_keep_eval_order(tmp_path: Path):
    ids = [f"q{i}" for i in range(9)]
    pw = {i: {"winner": "y"} for i in ids}
    assert [i for i, _ in choose(ids, pw)][5:] == ["q5", "q6", "q7"]


def test_write_examples_renders_answers_and_verdicts(tmp_path: Path):
    items = [{"id": f"q{i}", "domain": "it", "category": "wifi", "reference_answer": f"ref {i}",
              "messages": [{"role": "user", "content": f"question {i}"}]} for i in range(6)]
    eval_path = tmp_path / "eval.jsonl"
    eval_path.write_text("".join(json.dumps(r) + "\n" for r in items))
    (tmp_path / "answers").mkdir()
    (tmp_path / "judgments").mkdir()
    for m in ("base", "tuned"):
        (tmp_path / "answers" / f"{m}.jsonl").write_text(
            "".join(json.dumps({"id": r["id"], "answer": f"{m} says {r['id']}"}) + "\n" for r in items))
    (tmp_path / "judgments" / "pairwise-j.jsonl").write_text(
        json.dumps({"id": "q5", "winner": "y", "pref_x": -0.4}) + "\n")
    (tmp_path / "judgments" / "hallucination-j.jsonl").write_text(
        json.dumps({"id": "q5", "model": "tuned", "verdict": "2"}) + "\n")
    text = write_examples(tmp_path, "j", eval_path).read_text()
    assert text.count("## q") == 6
    assert "tuned says q5" in text and "judge hallucination label: `2`" in text and "tuned better" in text
    assert write_examples(tmp_path, "missing-judge", eval_path) is None
