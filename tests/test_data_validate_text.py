"""`python -m supportbot.data validate` on bad encodings, invisible text, keys given twice, empty files
(issue 13, defects 4 and 9): every problem is reported as file:line: field: problem, rc 1, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supportbot.data.__main__ import main

GOOD = {"messages": [{"role": "user", "content": "My printer is offline."},
                     {"role": "assistant", "content": "Check the cable and restart it."}]}


def _row(content: str) -> str:
    row = json.loads(json.dumps(GOOD))
    row["messages"][1]["content"] = content
    return json.dumps(row)  # ensure_ascii: a surrogate is written as the escape "\ud800", as JSON allows


def _validate(capsys, path: Path, *args: str) -> tuple[int, list[str]]:
    rc = main(["validate", *args, str(path)])
    err = capsys.readouterr().err
    return rc, [line for line in err.splitlines() if not line.endswith("problem(s) found")]


@pytest.mark.parametrize("content, problem", [
    ("hi \ud800", "lone surrogate U+D800 at position 3"),
    ("\u200b", "no visible text"),
    ("\u200b\ufeff \u2060", "no visible text"),
    ("\x00", "control character U+0000 at position 0"),
    ("fine\x07", "control character U+0007 at position 4"),
])
@pytest.mark.parametrize("length_check", [True, False])
def test_unreadable_or_invisible_content_is_named(tmp_path, capsys, content, problem, length_check):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + _row(content) + "\n", encoding="utf-8")
    rc, lines = _validate(capsys, path, *([] if length_check else ["--no-length-check"]))
    assert rc == 1 and len(lines) == 1 and lines[0].startswith(f"{path}:2: messages[1].content: {problem}"), lines


def test_latin1_text_names_file_line_and_byte(tmp_path, capsys):
    path = tmp_path / "train.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b"\n" + _row("caf\u00e9").encode("ascii").replace(b"\\u00e9", b"\xe9")
                     + b"\n")
    rc, lines = _validate(capsys, path)
    assert rc == 1 and len(lines) == 1 and lines[0].startswith(f"{path}:2: row: not UTF-8 text: byte 0xe9 at column ")


def test_a_key_given_twice_is_named(tmp_path, capsys):
    path = tmp_path / "train.jsonl"
    first = '{"role": "user", "content": ""}'
    path.write_text('{"messages": [' + first + '], "messages": ' + json.dumps(GOOD["messages"]) + "}\n")
    rc, lines = _validate(capsys, path, "--no-length-check")
    assert rc == 1 and lines == [f"{path}:1: messages: key given twice in one object (JSON would keep only the last copy)"]


def test_an_empty_file_is_not_ok(tmp_path, capsys):
    path = tmp_path / "train.jsonl"
    path.write_text("\n\n")
    rc, lines = _validate(capsys, path, "--no-length-check")
    assert rc == 1 and lines == [f"{path}:0: row: no rows: the file is empty"]
