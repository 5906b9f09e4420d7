"""Append-only JSONL files after a crash, bad encodings, duplicate keys (issue 13, defects 3 and 4; fast).

The generator runs as a real process against the fake OpenAI-style endpoint of the judge tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from judge_fake import FakeJudge

from supportbot.jsonl import JsonlError, append_jsonl, iter_jsonl, read_jsonl, rejected_path, repair_tail
from supportbot.serve.process import free_port

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "tests" / "fixtures" / "eval_tiny.jsonl"


def _rows(n: int) -> str:
    return "".join(json.dumps({"key": f"k{i}", "response": {"content": "x" * i}}) + "\n" for i in range(n))


def test_broken_last_line_ending_in_a_newline_is_set_aside(tmp_path):
    path = tmp_path / "cache.jsonl"
    path.write_text(_rows(3) + '{"key": "k3", "resp\n')
    note = repair_tail(path)
    assert note and f"{path}:4:" in note and str(rejected_path(path)) in note
    assert rejected_path(path).read_text() == '{"key": "k3", "resp\n'
    append_jsonl(path, {"key": "k3", "response": {}})
    assert [r["key"] for r in read_jsonl(path)] == ["k0", "k1", "k2", "k3"]  # nothing lost, nothing after a bad line
    assert repair_tail(path) is None


def test_complete_last_row_without_newline_is_kept(tmp_path):
    path = tmp_path / "cache.jsonl"
    path.write_text(_rows(3).rstrip("\n"))
    assert repair_tail(path) is None and not rejected_path(path).exists()
    append_jsonl(path, {"key": "k3", "response": {}})
    assert len(read_jsonl(path)) == 4


def test_half_a_utf8_character_at_the_end_is_set_aside(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(_rows(2).encode() + '{"answer": "café'.encode()[:-1])
    assert "not UTF-8" in repair_tail(path) and len(read_jsonl(path)) == 2


def test_bad_lines_before_the_last_are_errors_naming_file_and_line(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(_rows(1).encode() + b'{"id": "caf\xe9"}\n' + _rows(1).encode())
    with pytest.raises(JsonlError, match=r"a\.jsonl:2: not UTF-8 text: byte 0xe9 at column 12"):
        read_jsonl(path)
    assert repair_tail(path) is None  # only a broken *last* line is moved aside
    path.write_text('{"id": 1, "messages": [], "messages": [{"role": "user"}]}\n')
    with pytest.raises(JsonlError, match=r"a\.jsonl:1: messages: key given twice"):
        read_jsonl(path)
    path.write_text('{"messages": [{"role": "user", "content": "a", "content": "b"}]}\n')
    with pytest.raises(JsonlError, match=r"messages\[0\]\.content: key given twice"):
        list(iter_jsonl(path))


def test_read_only_consumers_warn_about_a_skipped_tail(tmp_path, capsys):
    path = tmp_path / "a.jsonl"
    path.write_text(_rows(2) + '{"bro\n')
    assert len(read_jsonl(path, allow_truncated_tail=True)) == 2
    assert f"{path}:3: skipped the broken last line" in capsys.readouterr().err


@pytest.fixture
def fake():
    f = FakeJudge()
    yield f
    f.close()


def _generate(out: Path, base_url: str, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "eval" / "generate.py"), "--base-url", base_url, "--model", "m",
           "--out", str(out), "--eval", str(EVAL), "--max-tokens", "8", "--no-progress", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_generate_sets_a_broken_last_line_aside_and_every_later_run_resumes(fake, tmp_path):
    """Defect 3: the first rerun appended after the broken line, the second refused the file (rc 2)."""
    out = tmp_path / "answers.jsonl"
    assert _generate(out, fake.base_url).returncode == 0
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:40] + "\n")  # killed mid-write, newline and all
    first = _generate(out, fake.base_url)
    assert first.returncode == 0, first.stderr
    assert f"{out}:5: the last line is not a complete JSON row" in first.stderr and "4 already there, 1 new" in first.stderr
    second = _generate(out, fake.base_url)
    assert second.returncode == 0 and "5 already there, 0 new" in second.stderr, second.stderr
    rows = read_jsonl(out)
    assert sorted(r["id"] for r in rows) == [f"fx-00{i}" for i in range(1, 6)]
    # the broken tail is kept as written, less trailing whitespace (which row comes last, and so whether the
    # 40-character cut ends in a space, depends on the order the concurrent requests finished)
    assert rejected_path(out).read_text() == lines[-1][:40].rstrip() + "\n"


def test_generate_names_file_and_line_of_a_non_utf8_row(fake, tmp_path):
    """Defect 4: a \\xff line gave a UnicodeDecodeError traceback and rc 1 ('some requests failed')."""
    out = tmp_path / "answers.jsonl"
    assert _generate(out, fake.base_url, "--limit", "2").returncode == 0
    good = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(good[0] + b"\xff\xfe garbage\n" + good[1])
    res = _generate(out, fake.base_url)
    assert res.returncode == 2, res.stderr
    assert f"{out}:2: not UTF-8 text: byte 0xff at column 1" in res.stderr and "Traceback" not in res.stderr


def test_generate_stops_at_a_refused_connection_and_names_the_url(tmp_path):
    """Defect 11 (generator side): 'Connection error.' without the URL, and every item retried."""
    url = f"http://127.0.0.1:{free_port()}/v1"
    t0 = time.monotonic()
    res = _generate(tmp_path / "a.jsonl", url, "--concurrency", "1", "--max-retries", "1")
    assert res.returncode == 1
    assert f"nothing answers at {url}" in res.stderr and "Connection refused" in res.stderr
    assert "0 new, 5 failed" in res.stderr and time.monotonic() - t0 < 60
