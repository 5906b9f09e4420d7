"""The one CLI error mechanism (supportbot.cli_errors) and the shared argparse types (supportbot.cli_args)."""

from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path

import httpx
import openai
import pytest

from supportbot import cli_args
from supportbot.cli_errors import CliError, check_writable, cli_main, describe, read_bytes, read_text, run_cli


def _raise(exc: BaseException):
    def main() -> int:
        raise exc
    return main


@pytest.mark.parametrize(("exc", "line"), [
    (FileNotFoundError(errno.ENOENT, "x", "/a/b"), "/a/b: no such file or folder"),
    (IsADirectoryError(errno.EISDIR, "x", "/a"), "/a: is a folder, not a file"),
    (NotADirectoryError(errno.ENOTDIR, "x", "/f/x"), "/f/x: a parent is not a folder"),
    (PermissionError(errno.EACCES, "x", "/p"), "/p: permission denied"),
    (OSError(errno.EIO, "Input/output error", "/dev/x"), "/dev/x: Input/output error"),
    (OSError(errno.EIO, "Input/output error"), "Input/output error"),
    (CliError("data.csv:3: reply: empty"), "data.csv:3: reply: empty"),
    (ValueError("eval.jsonl:7: field 'messages': missing"), "eval.jsonl:7: field 'messages': missing"),
    (RecursionError("maximum recursion depth"), "input is nested too deeply to read"),
    (UnicodeDecodeError("utf-8", b"ok \xff", 3, 4, "invalid"), "input is not UTF-8 text: byte 0xff at offset 3 (save the file as UTF-8)"),
])
def test_run_cli_turns_handled_errors_into_one_line_and_rc_2(capsys, exc, line) -> None:
    assert run_cli(_raise(exc)) == 2
    assert capsys.readouterr().err == f"error: {line}\n"


def test_run_cli_passes_main_code_and_keeps_bugs_as_tracebacks(capsys, monkeypatch) -> None:
    assert run_cli(lambda: 0) == 0 and run_cli(lambda: None) == 0 and run_cli(lambda: 1) == 1
    with pytest.raises(TypeError):
        run_cli(_raise(TypeError("a bug")))
    with pytest.raises(KeyError):
        run_cli(_raise(KeyError("a bug")))
    monkeypatch.setenv("SUPPORTBOT_DEBUG", "1")
    with pytest.raises(CliError):
        run_cli(_raise(CliError("shown with its traceback")))
    assert capsys.readouterr().err == ""


def test_run_cli_prefixes_prog(capsys) -> None:
    assert run_cli(_raise(CliError("bad")), prog="tool") == 2
    assert capsys.readouterr().err == "tool: error: bad\n"


def test_cli_main_hands_argv_through(capsys) -> None:
    @cli_main
    def main(argv: list[str] | None = None) -> int:
        if argv == ["boom"]:
            raise CliError("x.yaml: boom")
        return len(argv or [])

    assert main(["a", "b"]) == 2 and main() == 0
    assert main(["boom"]) == 2 and capsys.readouterr().err == "error: x.yaml: boom\n"
    assert main.__name__ == "main"


def test_openai_errors_name_the_url() -> None:
    req = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as cause:
            raise openai.APIConnectionError(request=req) from cause
    except openai.APIConnectionError as exc:
        conn = exc
    assert describe(conn).startswith("http://127.0.0.1:9/v1/chat/completions: no answer (ConnectionRefusedError")
    resp = httpx.Response(401, request=req, json={"error": {"message": "invalid API key"}})
    auth = openai.AuthenticationError("invalid API key", response=resp, body=None)
    assert "HTTP 401, the endpoint refused the API key (invalid API key)" in describe(auth)
    resp = httpx.Response(422, request=req)
    assert describe(openai.UnprocessableEntityError("max_tokens: must be >= 1", response=resp, body=None)) == (
        "http://127.0.0.1:9/v1/chat/completions: HTTP 422: max_tokens: must be >= 1")


def test_openai_errors_are_handled_only_once_openai_is_loaded(monkeypatch, capsys) -> None:
    err = openai.APIConnectionError(request=httpx.Request("GET", "http://x/v1/models"))
    assert run_cli(_raise(err)) == 2 and "http://x/v1/models: no answer" in capsys.readouterr().err
    monkeypatch.delitem(sys.modules, "openai")
    with pytest.raises(openai.APIConnectionError):
        run_cli(_raise(err))


def test_read_text_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(CliError, match=rf"^{path}:2: not UTF-8 text: byte 0xe9 \(save the file as UTF-8\)$"):
        read_text(path)
    with pytest.raises(KeyError, match="c.yaml:2"):
        read_text(path, error=KeyError)
    path.write_text("ok\n")
    assert read_text(path) == "ok\n"


def test_read_bytes_names_the_file_when_the_read_fails() -> None:
    """/proc/self/mem opens but its first read fails (EIO), for root too: the OSError then has no filename."""
    with pytest.raises(OSError) as exc:
        read_bytes("/proc/self/mem")
    assert exc.value.filename == "/proc/self/mem" and describe(exc.value) == "/proc/self/mem: Input/output error"


def test_check_writable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    check_writable(tmp_path / "new.jsonl", tmp_path / "missing" / "deeper" / "r.json", tmp_path / "file", None)
    with pytest.raises(IsADirectoryError) as exc:
        check_writable(tmp_path / "ok.json", tmp_path)
    assert exc.value.filename == str(tmp_path)
    with pytest.raises(NotADirectoryError) as exc:
        check_writable(tmp_path / "file" / "sub" / "r.json")
    assert describe(exc.value) == f"{tmp_path / 'file' / 'sub' / 'r.json'}: a parent is not a folder"


def test_check_writable_read_only(tmp_path: Path, monkeypatch) -> None:
    """A read-only folder (root writes there anyway, so os.access answers as for a normal user)."""
    monkeypatch.setattr("supportbot.cli_errors.os.access", lambda p, mode: Path(p) != tmp_path)
    with pytest.raises(PermissionError) as exc:
        check_writable(tmp_path / "out.jsonl")
    assert describe(exc.value) == f"{tmp_path / 'out.jsonl'}: permission denied"


@pytest.mark.parametrize(("parse", "value", "ok"), [
    (cli_args.positive_int, "1", 1), (cli_args.positive_int, "256", 256), (cli_args.positive_int, "0", None),
    (cli_args.positive_int, "-3", None), (cli_args.positive_int, "2.5", None), (cli_args.positive_int, "x", None),
    (cli_args.fraction, "0", 0.0), (cli_args.fraction, "0.1", 0.1), (cli_args.fraction, "1", None),
    (cli_args.fraction, "5", None), (cli_args.fraction, "-0.1", None), (cli_args.fraction, "nan", None),
    (cli_args.non_negative_int, "0", 0), (cli_args.non_negative_int, "3", 3), (cli_args.non_negative_int, "-1", None),
    (cli_args.non_negative_int, "1.5", None), (cli_args.positive_float, "0.5", 0.5), (cli_args.positive_float, "0", None),
    (cli_args.positive_float, "inf", None), (cli_args.positive_float, "x", None),
    (cli_args.non_negative_float, "0", 0.0), (cli_args.non_negative_float, "0.7", 0.7),
    (cli_args.non_negative_float, "-0.1", None), (cli_args.non_negative_float, "nan", None),
    (cli_args.share, "0", 0.0), (cli_args.share, "1", 1.0), (cli_args.share, "0.8", 0.8), (cli_args.share, "1.5", None),
    (cli_args.share, "-0.1", None), (cli_args.share, "nan", None),
])
def test_number_types(parse, value: str, ok: float | None) -> None:
    if ok is None:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(value)
    else:
        assert parse(value) == ok


@pytest.mark.parametrize("name", ["../../../etc/hostname", "/etc/hostname", "sub/support_system", ".hidden",
                                  "no_such_prompt", "", "a\\b"])
def test_prompt_name_refuses_paths_outside_prompts(name: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        cli_args.prompt_name(name)


def test_prompt_name_accepts_prompt_files() -> None:
    assert cli_args.prompt_name("support_system") == "support_system"
    assert cli_args.prompt_name("support_system.txt") == "support_system.txt"


def test_utf8_text() -> None:
    assert cli_args.utf8_text("café printer") == "café printer"
    bad = b"\xff\xfe printer".decode("utf-8", "surrogateescape")  # what argv holds for those bytes
    with pytest.raises(argparse.ArgumentTypeError, match="not UTF-8 text: byte 0xff at character 1"):
        cli_args.utf8_text(bad)
