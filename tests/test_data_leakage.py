"""Eval items must not be near-duplicates of training data (normalized word n-gram overlap)."""

from __future__ import annotations

import pytest

from supportbot.data.__main__ import main
from supportbot.data.leakage import check, closest_pairs
from supportbot.paths import DATA_DIR


def _bundled() -> list[str]:
    files = [DATA_DIR / f"{n}.jsonl" for n in ("train", "dev", "eval")]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: run `python -m supportbot.data build`")
    return [str(f) for f in files]


def test_bundled_eval_does_not_leak(capsys: pytest.CaptureFixture[str]) -> None:
    train, dev, eval_ = _bundled()
    rc = main(["leakage", "--train", train, dev, "--eval", eval_])
    out = capsys.readouterr().out
    assert rc == 0, out


def _row(rid: str, user: str, assistant: str) -> dict:
    return {"id": rid, "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": user},
                                    {"role": "assistant", "content": assistant}]}


def test_injected_near_duplicate_is_caught(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    train = [
        _row("t-1", "My laptop fan is very loud when I open Chrome, is that normal or is it broken?",
             "Loud fans under load are normal. Close unused tabs and check Task Manager for busy processes."),
        _row("t-2", "How can I change the default browser on Windows 11?",
             "Open Settings > Apps > Default apps, pick the browser and click Set default."),
    ]
    eval_items = [{"id": "e-1", "messages": [{"role": "user",
                   "content": "my laptop fan is VERY loud when i open chrome -- is that normal, or is it broken??"}],
                   "reference_answer": "Fans spin up under load; that is expected.", "key_facts": ["x"], "forbidden_claims": ["y"]},
                  {"id": "e-2", "messages": [{"role": "user", "content": "Printer paper jam keeps coming back"}],
                   "reference_answer": "Open the rear door and remove torn paper.", "key_facts": ["x"],
                   "forbidden_claims": ["y"]}]
    questions, answers = check(train, eval_items, n=8)
    assert questions[0].eval_id == "e-1" and questions[0].train_id == "t-1" and questions[0].score == 1.0
    assert all(p.eval_id != "e-2" for p in questions)  # shares no 8-gram with training
    assert answers == []

    t, e = tmp_path / "train.jsonl", tmp_path / "eval.jsonl"
    t.write_text("".join(json.dumps(r) + "\n" for r in train))
    e.write_text("".join(json.dumps(r) + "\n" for r in eval_items))
    assert main(["leakage", "--train", str(t), "--eval", str(e)]) == 1
    out = capsys.readouterr().out
    assert "1.000  e-1 <-> t-1" in out and "LEAK" in out


def test_partial_overlap_score_and_short_queries() -> None:
    corpus = [("c", "one two three four five six seven eight nine ten")]
    pairs = closest_pairs([("q", "one two three four five six seven eight nine zzz"), ("s", "two three")], corpus, n=8)
    by_id = {p.eval_id: p.score for p in pairs}
    assert by_id["q"] == pytest.approx(2 / 3)  # 2 of its 3 8-grams occur in the corpus
    assert by_id["s"] == 1.0  # shorter than n: the whole text is the n-gram
