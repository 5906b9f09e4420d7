"""Issue 24, faults B and C: `python -m supportbot.data convert|validate` on bad input gives a clear error
(``file:line: field: problem`` rc 1 for bad rows, ``error: file: problem`` rc 2 for a file that cannot be
read or written), never a traceback, and never half of its outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from supportbot.data.__main__ import main

FIX = Path(__file__).parent / "fixtures" / "convert"
CSV_COLS = ["--subject-col", "Subject", "--message-col", "Customer Message", "--reply-col", "Agent Reply",
            "--id-col", "Ticket ID"]
GOOD_THREAD = {"ticket_id": "t1", "subject": "VPN", "messages": [
    {"author_type": "customer", "body": "The VPN drops every hour.", "created_at": "2024-01-01T10:00"},
    {"author_type": "agent", "body": "Update the client to 5.2.", "created_at": "2024-01-01T10:05"}]}


def _write(path: Path, data: str | bytes) -> Path:
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def _convert(tmp_path: Path, fmt: str, src: Path, *extra: str) -> int:
    return main(["convert", fmt, str(src), "--out", str(tmp_path / "out.jsonl"), *extra])


def test_fault_B_convert_latin1_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write(tmp_path / "t.csv", b"ticket_id,message,reply\n1,printer offline,restart it\n"
                 + "2,caf\xe9 printer,restart\n".encode("latin-1"))
    assert _convert(tmp_path, "csv", src) == 2
    assert f"error: {src}:3: not UTF-8 text: byte 0xe9" in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()


def test_fault_B_convert_latin1_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write(tmp_path / "t.json", json.dumps([GOOD_THREAD]).encode() + b"\n\xff")
    assert _convert(tmp_path, "thread", src) == 2
    assert f"error: {src}:2: not UTF-8 text: byte 0xff" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["csv", "thread"])
def test_fault_B_convert_missing_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    assert _convert(tmp_path, fmt, tmp_path / "nope.json") == 2
    assert f"error: {tmp_path / 'nope.json'}: no such file or folder" in capsys.readouterr().err


def test_fault_B_convert_input_is_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _convert(tmp_path, "sharegpt", tmp_path) == 2
    assert f"error: {tmp_path}: is a folder, not a file" in capsys.readouterr().err


WRONG_TYPES = [
    ("sharegpt", {"conversations": [{"from": ["human"], "value": "hi"}, {"from": "gpt", "value": "hello"}]},
     "conversations[0].from: unknown or missing speaker ['human']"),
    ("sharegpt", {"conversations": [{"from": {"a": 1}, "value": "hi"}]}, "conversations[0].from"),
    ("sharegpt", {"conversations": [{"from": "human", "value": 3}]}, "conversations[0].value: expected a string, got int"),
    ("sharegpt", {"conversations": ["hi"]}, "conversations[0]: expected an object, got string"),
    ("sharegpt", {"id": {"x": 1}, "conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]},
     "id: expected a string or integer id, got object"),
    ("thread", {**GOOD_THREAD, "messages": [{"author_type": {}, "body": "x"}]},
     "messages[0].author_type: expected customer or agent, got {}"),
    ("thread", {**GOOD_THREAD, "messages": [{"author_type": ["agent"], "body": "x"}]}, "messages[0].author_type"),
    ("thread", {**GOOD_THREAD, "ticket_id": ["t1"]}, "ticket_id: expected a string or integer id, got array"),
    ("thread", {**GOOD_THREAD, "subject": 42}, "subject: expected a string, got int"),
    ("thread", {**GOOD_THREAD, "messages": [{**GOOD_THREAD["messages"][0], "created_at": 5}, GOOD_THREAD["messages"][1]]},
     "messages[0].created_at: expected a string, got int"),
    ("alpaca", {"instruction": ["fix it"], "output": "ok"}, "instruction: expected a string, got array"),
    ("alpaca", {"instruction": "fix it", "input": {"k": 1}, "output": "ok"}, "input: expected a string, got object"),
]


@pytest.mark.parametrize(("fmt", "row", "message"), WRONG_TYPES)
def test_fault_B_convert_wrong_field_types_are_file_line_field_errors(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str, row: dict, message: str) -> None:
    """Unhashable speaker/author_type values crashed with TypeError; other wrong types were silently str()-ed
    or ignored. Each is now ``file:line: field: problem`` (rc 1), or listed in the report with --skip-bad."""
    src = _write(tmp_path / "in.jsonl", json.dumps({"ok": 1}) + "\n" + json.dumps(row) + "\n")
    assert _convert(tmp_path, fmt, src) == 1
    err = capsys.readouterr().err
    assert f"{src}:2: {message}" in err and "Traceback" not in err
    assert _convert(tmp_path, fmt, src, "--skip-bad") == 0
    report = json.loads((tmp_path / "out.report.json").read_text())
    assert [s["line"] for s in report["skipped"]] == [1, 2]


@pytest.mark.parametrize("layout", ["array", "jsonl"])
def test_fault_B_convert_100k_deep_json(tmp_path: Path, capsys: pytest.CaptureFixture[str], layout: str) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    text = f"[\n{json.dumps(GOOD_THREAD)},\n{deep}\n]" if layout == "array" else f"{json.dumps(GOOD_THREAD)}\n{deep}\n"
    src = _write(tmp_path / "deep.json", text)
    assert _convert(tmp_path, "thread", src) == 1
    line = 3 if layout == "array" else 2
    assert f"{src}:{line}: row: invalid JSON: nested too deeply" in capsys.readouterr().err


def test_fault_B_convert_dev_fraction_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        _convert(tmp_path, "csv", FIX / "tickets.csv", *CSV_COLS, "--dev-out", str(tmp_path / "dev.jsonl"),
                 "--dev-fraction", "5")
    assert exc.value.code == 2
    assert "--dev-fraction: must be in [0, 1)" in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()


def test_fault_B_convert_unwritable_report_writes_no_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The report was written last: a bad --report failed with a traceback after --out and --dev-out were
    written. Every output is now checked first (here: a report path under a regular file, which fails
    for root too)."""
    (tmp_path / "a_file").write_text("x")
    bad = tmp_path / "a_file" / "r.json"
    rc = _convert(tmp_path, "csv", FIX / "tickets.csv", *CSV_COLS, "--dev-out", str(tmp_path / "dev.jsonl"),
                  "--report", str(bad))
    assert rc == 2
    assert f"error: {bad}: a parent is not a folder" in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "dev.jsonl").exists()


def test_fault_B_convert_report_in_missing_folder(tmp_path: Path) -> None:
    """The issue's command: --report in a folder that does not exist yet is created, like --out's."""
    report = tmp_path / "missing" / "dir" / "r.json"
    assert _convert(tmp_path, "csv", FIX / "tickets.csv", *CSV_COLS, "--report", str(report)) == 0
    assert json.loads(report.read_text())["rows_train"] == len((tmp_path / "out.jsonl").read_text().splitlines())


def test_fault_B_convert_output_is_a_folder_or_the_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "out.jsonl").mkdir()
    assert _convert(tmp_path, "csv", FIX / "tickets.csv", *CSV_COLS) == 2
    assert f"error: {tmp_path / 'out.jsonl'}: is a folder, not a file" in capsys.readouterr().err
    src = _write(tmp_path / "in.jsonl", json.dumps(GOOD_THREAD) + "\n")
    assert main(["convert", "thread", str(src), "--out", str(src)]) == 2
    assert "given twice" in capsys.readouterr().err and json.loads(src.read_text()) == GOOD_THREAD


def test_fault_B_convert_csv_field_over_the_csv_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write(tmp_path / "big.csv", 'ticket_id,message,reply\n1,ok,fine\n2,"' + "x" * 200_000 + '",r\n')
    assert _convert(tmp_path, "csv", src) == 1
    assert f"{src}:3: row: unreadable CSV: field larger than field limit" in capsys.readouterr().err


def test_fault_B_convert_cli_prints_no_traceback(tmp_path: Path) -> None:
    """The installed command line end to end: one line on stderr, rc 2."""
    src = _write(tmp_path / "t.csv", b"ticket_id,message,reply\n1,caf\xe9,ok\n")
    res = subprocess.run([sys.executable, "-m", "supportbot.data", "convert", "csv", str(src), "--out",
                          str(tmp_path / "o.jsonl")], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [f"error: {src}:2: not UTF-8 text: byte 0xe9 (save the file as UTF-8)"]


# ------------------------------------------------------------------ C: validate on a file it cannot read
def test_fault_C_validate_unreadable_file_eio(capsys: pytest.CaptureFixture[str]) -> None:
    """A file that is there but cannot be read, for root too: /proc/self/mem (open works, read gives EIO)."""
    assert main(["validate", "--no-length-check", "/proc/self/mem"]) == 2
    assert capsys.readouterr().err.strip() == "error: /proc/self/mem: Input/output error"


def test_fault_C_validate_permission_denied(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """chmod 000 does not stop root (the tests run as root), so the read raises the PermissionError a
    non-root user gets (a unit test of the fault path: the only mock here)."""
    path = _write(tmp_path / "train.jsonl", '{"id": "a"}\n')
    real = Path.read_bytes

    def denied(self: Path) -> bytes:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    assert main(["validate", "--no-length-check", str(path)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {path}: permission denied"


def test_fault_C_validate_folder_is_named_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--no-length-check", str(tmp_path)]) == 1
    assert f"{tmp_path}:0: row: is a folder, not a file" in capsys.readouterr().err
