"""Issue 24, fault I in the other evaluation CLIs and options: a number out of range is a usage error (rc 2)
naming the option, not a silent or misleading result. ``eval/behaviour.py --limit -3`` summarised all but the
last three items and ``--limit 0`` nothing, both with rc 0; ``eval/lm_eval_refs.py --limit``/``--batch-size``
went unchecked to lm-eval; ``eval/generate.py --timeout``/``--max-retries``/``--temperature`` were unchecked;
``python -m supportbot.data leakage --n``/``--threshold`` and ``validate --sequence-len`` too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval import behaviour, lm_eval_refs


def _eval_and_answers(tmp: Path, n: int = 4) -> tuple[Path, Path]:
    ev, ans = tmp / "eval.jsonl", tmp / "m.jsonl"
    ev.write_text("".join(json.dumps({"id": f"q{i}", "domain": "it", "answerable": True, "messages": [],
                                      "reference_answer": "x", "key_facts": []}) + "\n" for i in range(n)))
    ans.write_text("".join(json.dumps({"id": f"q{i}", "answer": "Restart the router.", "model": "m"}) + "\n"
                           for i in range(n)))
    return ev, ans


@pytest.mark.parametrize("value", ["0", "-3"])
def test_fault_I_behaviour_limit_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  value: str) -> None:
    ev, ans = _eval_and_answers(tmp_path)
    out = tmp_path / "o.json"
    with pytest.raises(SystemExit) as exc:
        behaviour.main(["--eval", str(ev), "--answers", f"m={ans}", "--out", str(out), "--limit", value])
    assert exc.value.code == 2 and "argument --limit: must be >= 1" in capsys.readouterr().err
    assert not out.exists()


def test_behaviour_limit_keeps_the_first_n(tmp_path: Path) -> None:
    ev, ans = _eval_and_answers(tmp_path)
    out = tmp_path / "o.json"
    assert behaviour.main(["--eval", str(ev), "--answers", f"m={ans}", "--out", str(out), "--limit", "3"]) == 0
    assert [r["id"] for r in json.loads(out.read_text())["rows"]] == ["q0", "q1", "q2"]


@pytest.mark.parametrize(("option", "value"), [("--limit", "0"), ("--limit", "-3"), ("--batch-size", "0"),
                                               ("--batch-size", "-1")])
def test_fault_I_lm_eval_refs_counts_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      option: str, value: str) -> None:
    """Refused while parsing, before a model is loaded or the reference prompts are rendered."""
    with pytest.raises(SystemExit) as exc:
        lm_eval_refs.main(["--model", f"base={tmp_path}", "--out", str(tmp_path / "l.json"), option, value])
    assert exc.value.code == 2 and f"argument {option}: must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "l.json").exists()


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--timeout", "0", "must be > 0, got 0.0"), ("--timeout", "-1", "must be > 0, got -1.0"),
    ("--timeout", "nan", "must be > 0, got nan"), ("--max-retries", "-1", "must be >= 0, got -1"),
    ("--temperature", "-0.5", "must be >= 0, got -0.5"), ("--temperature", "inf", "must be >= 0, got inf"),
])
def test_fault_I_generate_timeout_retries_temperature(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      option: str, value: str, message: str) -> None:
    """--timeout 0 was reported as 'nothing answers ... is the server running?', --timeout -1 failed every item
    ('Timeout value out of range', rc 1), --max-retries -1 did not name the option: usage errors now."""
    from eval import generate

    out = tmp_path / "a.jsonl"
    with pytest.raises(SystemExit) as exc:
        generate.main(["--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--out", str(out), option, value])
    assert exc.value.code == 2 and f"argument {option}: {message}" in capsys.readouterr().err
    assert not out.exists()



@pytest.mark.parametrize(("args", "message"), [
    (["leakage", "--n", "0"], "argument --n: must be >= 1, got 0"),  # was '0-gram containment ... FAILED', rc 1
    (["leakage", "--threshold", "5"], "argument --threshold: must be in [0, 1], got 5.0"),  # could never fail
    (["leakage", "--answer-threshold", "-0.1"], "argument --answer-threshold: must be >= 0, got -0.1"),
    (["validate", "data/eval.jsonl", "--sequence-len", "0"],  # 0 was taken as 'not given': the config's 1024
     "argument --sequence-len: must be >= 1, got 0"),
    (["validate", "data/eval.jsonl", "--sequence-len", "-5"], "argument --sequence-len: must be >= 1, got -5"),
])
def test_fault_I_data_cli_option_ranges(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    from supportbot.data.__main__ import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_behaviour_bad_input_is_one_error_line_rc_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad answers row, a missing answer, a bad --answers: were SystemExit messages with rc 1 and no 'error:'."""
    ev, ans = _eval_and_answers(tmp_path)
    out = tmp_path / "o.json"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "q0", "model": "m"}) + "\n")
    short = tmp_path / "short.jsonl"
    short.write_text(ans.read_text().splitlines()[0] + "\n")
    for answers, line in [(f"m={bad}", f"error: {bad}:1: missing field 'answer'"),
                          (f"m={short}", "error: m: no answer for 3 eval item(s), e.g. ['q1', 'q2', 'q3']"),
                          ("m", "error: --answers must look like NAME=PATH, got 'm'"),
                          (f"m={tmp_path / 'none.jsonl'}", f"error: {tmp_path / 'none.jsonl'}: answer file not found")]:
        assert behaviour.main(["--eval", str(ev), "--answers", answers, "--out", str(out)]) == 2
        assert capsys.readouterr().err == line + "\n"
    assert not out.exists()


def test_fault_I_judge_seed_must_be_non_negative(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--seed -1 judged every pair, then failed in the bootstrap with 'error: expected non-negative integer'."""
    from judge_fake import FakeJudge, cli_args, write_workspace

    from supportbot.judge import cli as judge_run

    fake = FakeJudge()
    try:
        write_workspace(tmp_path)
        with pytest.raises(SystemExit) as exc:
            judge_run.main(["pairwise", *cli_args(tmp_path, fake.base_url, "--seed", "-1")])
        assert exc.value.code == 2 and "argument --seed: must be >= 0, got -1" in capsys.readouterr().err
        assert fake.requests == []
    finally:
        fake.close()
