"""`python -m supportbot.data validate`: precise errors on broken fixtures; the bundled data passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from supportbot.data.__main__ import main
from supportbot.paths import DATA_DIR

BROKEN = Path(__file__).parent / "fixtures" / "broken"

# fixture file -> (line, field, start of the problem)
CASES = {
    "bad_json.jsonl": (2, "row", "invalid JSON"),
    "not_object.jsonl": (2, "row", "expected a JSON object, got list"),
    "missing_messages.jsonl": (3, "messages", "missing"),
    "missing_role.jsonl": (2, "messages[1].role", "missing"),
    "unknown_role.jsonl": (2, "messages[2].role", "unknown value 'agent'"),
    "roles_out_of_order.jsonl": (3, "messages[2].role", "roles out of order: expected assistant, got user"),
    "empty_content.jsonl": (2, "messages[2].content", "empty text"),
    "train_ends_with_user.jsonl": (2, "messages[3].role", "training row must end with an assistant message"),
    "unknown_key.jsonl": (2, "label", "unknown key"),
    "unknown_message_key.jsonl": (1, "messages[1].name", "unknown key"),
    "wrong_type.jsonl": (2, "messages[1].content", "wrong type"),
    "duplicate_id.jsonl": (3, "id", "duplicate id 'row-1'"),
    "eval_missing_key_facts.jsonl": (2, "key_facts", "missing"),
    "eval_missing_reference.jsonl": (3, "reference_answer", "missing"),
    "eval_system_message.jsonl": (1, "messages[0].role", "system message not allowed in eval items"),
    "eval_ends_with_assistant.jsonl": (2, "messages[1].role", "eval item must end with a user message"),
    "eval_wrong_type.jsonl": (2, "answerable", "wrong type"),
}


def _validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    rc = main(["validate", *args])
    err = capsys.readouterr().err
    return rc, [line for line in err.splitlines() if not line.endswith("problem(s) found")]


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_fixture_reports_file_line_field(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    line, field, problem = CASES[name]
    path = BROKEN / name
    rc, lines = _validate(capsys, "--no-length-check", str(path))
    assert rc == 1
    assert len(lines) == 1, lines  # exactly the one broken row, nothing about the good rows
    assert lines[0].startswith(f"{path}:{line}: {field}: {problem}"), lines[0]


def test_every_fixture_is_covered() -> None:
    assert sorted(p.name for p in BROKEN.glob("*.jsonl")) == sorted(CASES | {"too_long.jsonl": None})
    assert len(CASES) + 1 >= 12


def test_too_long_row_uses_tokenizer_and_sequence_len(capsys: pytest.CaptureFixture[str]) -> None:
    path = BROKEN / "too_long.jsonl"
    rc, lines = _validate(capsys, str(path))  # default sequence_len 1024 from the CPU config
    assert rc == 1
    assert len(lines) == 1 and lines[0].startswith(f"{path}:2: messages: too long: ")
    assert lines[0].endswith("> sequence_len 1024")
    rc, lines = _validate(capsys, "--sequence-len", "4000", str(path))
    assert rc == 0 and lines == []


def test_all_bad_rows_reported_together_and_ids_unique_across_files(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(BROKEN / n) for n in ("unknown_key.jsonl", "missing_role.jsonl", "eval_wrong_type.jsonl")]
    rc, lines = _validate(capsys, "--no-length-check", *files)
    assert rc == 1 and len(lines) == 5, lines
    dup = f"{BROKEN / 'missing_role.jsonl'}:1: id: duplicate id 'row-1' (first at {BROKEN / 'unknown_key.jsonl'}:1)"
    assert dup in lines
    assert sum("duplicate id" in line for line in lines) == 2


def test_missing_tokenizer_is_an_error_not_a_skip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines = _validate(capsys, "--tokenizer", str(tmp_path / "nope"), str(BROKEN / "unknown_key.jsonl"))
    assert rc == 1
    assert any("tokenizer folder not found" in line and "--no-length-check" in line for line in lines)


def test_bundled_data_validates(capsys: pytest.CaptureFixture[str]) -> None:
    files = [DATA_DIR / f"{n}.jsonl" for n in ("train", "dev", "eval")]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: run `python -m supportbot.data build`")
    rc = main(["validate", *map(str, files)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
