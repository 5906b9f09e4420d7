"""`python -m supportbot.data convert` on small real-looking exports in tests/fixtures/convert/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supportbot.data.__main__ import main
from supportbot.data.cleaning import clean_text
from supportbot.paths import load_prompt

FIX = Path(__file__).parent / "fixtures" / "convert"
CSV_COLS = ["--subject-col", "Subject", "--message-col", "Customer Message", "--reply-col", "Agent Reply",
            "--id-col", "Ticket ID"]


def _convert(tmp_path: Path, fmt: str, name: str, *extra: str) -> tuple[list[dict], dict]:
    out, report = tmp_path / "out.jsonl", tmp_path / "report.json"
    assert main(["convert", fmt, str(FIX / name), "--out", str(out), "--report", str(report), *extra]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return rows, json.loads(report.read_text(encoding="utf-8"))


def _all_text(rows: list[dict]) -> str:
    return "\n".join(m["content"] for r in rows for m in r["messages"])


def test_csv_strips_signatures_and_pii_and_drops_duplicate(tmp_path: Path) -> None:
    rows, report = _convert(tmp_path, "csv", "tickets.csv", *CSV_COLS)
    assert [r["id"] for r in rows] == ["T-1001", "T-1002", "T-1003", "T-1005", "T-1006"]
    assert report["duplicates"] == [{"line": 18, "id": "T-1004", "duplicate_of_line": 2, "duplicate_of_id": "T-1001",
                                     "reason": "same normalized text"}]
    text = _all_text(rows)
    for gone in ("Best regards", "Dana Whitfield", "@", "555-0134", "Sent from my iPhone", "Raj, IT Support",
                 "7946 0321", "Kind regards"):
        assert gone not in text, gone
    assert "Call me at [phone] if easier." in text and "my email is [email]" in text
    assert "192.168.1.1" in text and "firmware 2.1.4" in text and "192.168.0.1" in text  # not phone numbers
    first = rows[0]["messages"]
    assert first[0] == {"role": "system", "content": load_prompt("support_system")}
    assert first[1]["content"].startswith("Printer offline\n\nMy HP printer")  # subject prefixed
    assert first[2]["content"].endswith("remove the printer and add it again.")
    actions = {(c["id"], c["action"]) for c in report["changes"]}
    assert {("T-1001", "phone"), ("T-1001", "signature"), ("T-1002", "sent_from"), ("T-1002", "signature"),
            ("T-1003", "email"), ("T-1003", "phone"), ("T-1006", "signature")} <= actions
    assert all("@" not in c["detail"] or "***@" in c["detail"] for c in report["changes"])  # report holds no raw PII
    assert report["rows_in"] == 6 and report["skipped"] == []


def test_csv_bad_row_is_an_error_unless_skip_bad(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = FIX / "tickets_bad.csv"
    assert main(["convert", "csv", str(path), "--out", str(tmp_path / "o.jsonl")]) == 1
    assert f"{path}:3: reply: empty agent reply" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()
    rows, report = _convert(tmp_path, "csv", "tickets_bad.csv", "--skip-bad")
    assert [r["id"] for r in rows] == ["A-1", "A-3"]
    assert report["skipped"] == [{"line": 3, "id": "A-2", "field": "reply", "problem": "empty agent reply"}]


def test_csv_missing_column_names_the_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", "csv", str(FIX / "tickets.csv"), "--out", str(tmp_path / "o.jsonl")]) == 1
    err = capsys.readouterr().err
    assert f"{FIX / 'tickets.csv'}:1: message: column not found" in err


def test_sharegpt_roles_merge_and_system_replaced(tmp_path: Path) -> None:
    rows, report = _convert(tmp_path, "sharegpt", "sharegpt.json", "--skip-bad")
    assert [r["id"] for r in rows] == ["sg-1", "sg-2"]
    conv = rows[0]["messages"]
    assert [m["role"] for m in conv] == ["system", "user", "assistant", "user", "assistant"]
    assert conv[0]["content"] == load_prompt("support_system")
    assert conv[3]["content"] == "iPhone 15\n\nIt's on iOS 18."
    assert "Cheers" not in conv[4]["content"] and "Alex" not in conv[4]["content"]
    assert "[email]" in rows[1]["messages"][1]["content"]
    assert {c["action"] for c in report["changes"] if c["id"] == "sg-1"} == {"dropped_system", "merged", "signature"}
    assert report["skipped"] == [{"line": 14, "id": "sg-3", "field": "conversations[1].from",
                                  "problem": "unknown or missing speaker 'bing'"}]


def test_alpaca_dedupes_and_reports_bad_rows(tmp_path: Path) -> None:
    rows, report = _convert(tmp_path, "alpaca", "alpaca.jsonl", "--skip-bad")
    assert len(rows) == 2
    assert rows[1]["messages"][1]["content"] == ("Answer the customer's question.\n\nCan I use my old USB drive "
                                                 "for Time Machine? Contact: [phone]")
    assert [(d["line"], d["duplicate_of_line"]) for d in report["duplicates"]] == [(3, 1)]
    assert [(s["line"], s["field"]) for s in report["skipped"]] == [(4, "output")]


def test_thread_orders_merges_and_trims(tmp_path: Path) -> None:
    rows, report = _convert(tmp_path, "thread", "threads.json", "--skip-bad")
    assert [r["id"] for r in rows] == ["TK-5001", "TK-5002"]
    conv = rows[0]["messages"]
    assert [m["role"] for m in conv] == ["system", "user", "assistant", "user", "assistant"]
    assert conv[1]["content"] == "Can't print from Mac\n\nMy Mac says the printer is paused."
    assert conv[3]["content"] == "It's a Brother HL-L2350DW."
    assert conv[4]["content"].endswith("click Printer Queue and then Resume.")
    actions = [c["action"] for c in report["changes"] if c["id"] == "TK-5001"]
    assert actions == ["reordered", "sent_from", "signature", "dropped_trailing_customer"]
    assert rows[1]["messages"][1]["content"].endswith("my number is [phone]")
    assert report["skipped"][0]["field"] == "messages[1].author_type"


def test_dev_split_is_seeded(tmp_path: Path) -> None:
    runs = []
    for i in range(2):
        out, dev = tmp_path / f"t{i}.jsonl", tmp_path / f"d{i}.jsonl"
        assert main(["convert", "csv", str(FIX / "tickets.csv"), *CSV_COLS, "--out", str(out), "--dev-out", str(dev),
                     "--dev-fraction", "0.4", "--seed", "13"]) == 0
        runs.append((out.read_bytes(), dev.read_bytes()))
        assert (tmp_path / f"t{i}.report.json").is_file()  # default report path next to --out
    assert runs[0] == runs[1]
    assert len(runs[0][1].splitlines()) == 2 and len(runs[0][0].splitlines()) == 3


def test_converted_rows_pass_validation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows, _ = _convert(tmp_path, "thread", "threads.json", "--skip-bad")
    assert main(["validate", "--no-length-check", str(tmp_path / "out.jsonl")]) == 0


@pytest.mark.parametrize("text", ["Reset at 10.0.0.1, build 2024-05-01, error 0x800f0922, KB5034441, port 8080",
                                  "Thanks, that fixed it"])
def test_cleaning_leaves_ordinary_text_alone(text: str) -> None:
    assert clean_text(text) == (text, [])
