"""Issue 24, faults D, G, H, I and Q: eval/generate.py and demo.py on bad options, files and endpoints.

Each command runs as a real process and must print one ``error: ...`` line with rc 2, no traceback. The
endpoints are a refused port and a small stdlib HTTP server that answers like an OpenAI-compatible
service refusing the key or the request (a stand-in for those fault paths only).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from supportbot.netutil import free_port

ROOT = Path(__file__).resolve().parents[1]
KEY = "sekret-test-key"


class _Refusing(BaseHTTPRequestHandler):
    """/v1/models needs the key (401 otherwise, as the service answers); every chat request gets a 422."""

    def log_message(self, *a: object) -> None:  # quiet
        pass

    def _send(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            self._send(401, {"error": {"message": "invalid API key", "type": "authentication_error"}})
        else:
            self._send(200, {"object": "list", "data": [{"id": "base", "object": "model"},
                                                        {"id": "tuned", "object": "model"}]})

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._send(422, {"error": {"message": "messages: context too long", "type": "invalid_request_error"}})


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _run(args: list[str | bytes], key: str = "") -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "SUPPORTBOT_API_KEY": key, "HOME": "/tmp", "LANG": "C.UTF-8"}
    res = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=ROOT, env=env,
                         errors="replace")
    assert "Traceback" not in res.stderr, res.stderr
    return res


def _error_line(res: subprocess.CompletedProcess[str]) -> str:
    """The one error line (argparse's ``prog: error: ...`` or run_cli's ``error: ...``)."""
    lines = [ln for ln in res.stderr.splitlines() if "error: " in ln]
    assert res.returncode == 2 and len(lines) == 1, res.stderr
    return lines[0]


def _generate(tmp: Path, *extra: str, base_url: str = "http://127.0.0.1:9/v1") -> subprocess.CompletedProcess[str]:
    return _run([str(ROOT / "eval" / "generate.py"), "--base-url", base_url, "--model", "base", "--no-progress",
                 "--limit", "1", *extra])


# ------------------------------------------------------------------ D: --out / --eval that cannot be used
def test_fault_D_generate_out_is_a_folder(tmp_path: Path) -> None:
    """Was IsADirectoryError at the first answer (or rc 1 'nothing answers' with no server): now before any request."""
    assert _error_line(_generate(tmp_path, "--out", str(tmp_path))) == f"error: {tmp_path}: is a folder, not a file"


def test_fault_D_generate_out_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    out = tmp_path / "f" / "a.jsonl"
    assert _error_line(_generate(tmp_path, "--out", str(out))) == f"error: {out}: a parent is not a folder"


def test_fault_D_generate_unreadable_eval(tmp_path: Path) -> None:
    """An --eval that opens but cannot be read, for root too (/proc/self/mem: EIO); was an OSError traceback."""
    res = _generate(tmp_path, "--out", str(tmp_path / "a.jsonl"), "--eval", "/proc/self/mem")
    assert _error_line(res) == "error: /proc/self/mem: Input/output error"


def test_fault_D_generate_out_in_read_only_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A read-only folder: root writes there anyway, so os.access answers as for a normal user (fault-path mock)."""
    from eval import generate

    ro = tmp_path / "ro"
    ro.mkdir()
    monkeypatch.setattr("supportbot.cli_errors.os.access", lambda p, mode: Path(p) != ro)
    assert generate.main(["--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--out", str(ro / "a.jsonl")]) == 2
    assert capsys.readouterr().err == f"error: {ro / 'a.jsonl'}: permission denied\n"


# ------------------------------------------------------------------ I: token counts
@pytest.mark.parametrize("value", ["0", "-3"])
def test_fault_I_generate_max_tokens_must_be_positive(tmp_path: Path, value: str) -> None:
    res = _generate(tmp_path, "--out", str(tmp_path / "a.jsonl"), "--max-tokens", value)
    assert "argument --max-tokens: must be >= 1" in _error_line(res) and not (tmp_path / "a.jsonl").exists()


@pytest.mark.parametrize("value", ["0", "-3"])
def test_fault_I_demo_max_tokens_must_be_positive(endpoint: str, value: str) -> None:
    """--max-tokens -3 gave an empty answer and rc 0; 0 an UnprocessableEntityError traceback."""
    res = _run(["demo.py", "--base-url", endpoint, "--max-tokens", value, "my printer is offline"], key=KEY)
    assert "argument --max-tokens: must be >= 1" in _error_line(res)


# ------------------------------------------------------------------ Q: a system prompt outside prompts/
@pytest.mark.parametrize("name", ["../../../etc/hostname", "/etc/hostname", "no_such_prompt"])
def test_fault_Q_generate_system_prompt_outside_prompts(tmp_path: Path, name: str) -> None:
    res = _generate(tmp_path, "--out", str(tmp_path / "a.jsonl"), "--system-prompt", name)
    line = _error_line(res)
    assert "argument --system-prompt" in line and name in line


def test_fault_Q_load_prompt_refuses_paths() -> None:
    """The one check (paths.prompt_path) guards every prompt read, the service's --system-prompt included."""
    from supportbot.paths import PromptFileError, load_prompt

    with pytest.raises(PromptFileError, match="no folders"):
        load_prompt("../../../etc/hostname")


# ------------------------------------------------------------------ G: endpoint errors in demo.py
def test_fault_G_demo_dead_endpoint() -> None:
    res = _run(["demo.py", "--base-url", f"http://127.0.0.1:{free_port()}/v1", "my printer is offline"])
    line = _error_line(res)
    assert line.startswith("error: http://127.0.0.1:") and "/v1/models: no answer (" in line
    assert "is the server running" in line


def test_fault_G_demo_missing_key(endpoint: str) -> None:
    line = _error_line(_run(["demo.py", "--base-url", endpoint, "my printer is offline"]))
    assert line.startswith(f"error: {endpoint}/models: HTTP 401, the endpoint refused the API key (")


@pytest.mark.parametrize("compare", [[], ["--compare"]])
def test_fault_G_demo_rejected_request(endpoint: str, compare: list[str]) -> None:
    """A 4xx on the chat request (here 422), also from --compare's worker threads (was lost there)."""
    line = _error_line(_run(["demo.py", "--base-url", endpoint, *compare, "my printer is offline"], key=KEY))
    assert line == f"error: {endpoint}/chat/completions: HTTP 422: messages: context too long"


# ------------------------------------------------------------------ H: argv that is not UTF-8
def test_fault_H_demo_question_not_utf8(endpoint: str) -> None:
    """$'\\xff\\xfe printer' was an InvalidPromptError traceback."""
    res = subprocess.run([sys.executable, "demo.py", "--base-url", endpoint, b"\xff\xfe printer"], capture_output=True,
                         timeout=300, cwd=ROOT, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"})
    err = res.stderr.decode("utf-8", "replace")
    assert res.returncode == 2 and "Traceback" not in err
    assert "argument question: not UTF-8 text: byte 0xff at character 1" in err


# ------------------------------------------------------------------ every entry point goes through run_cli
@pytest.mark.parametrize("target", ["eval.generate:main", "eval.behaviour:main", "eval.examples:main",
                                    "eval.lm_eval_refs:main", "eval.report:main", "supportbot.judge.cli:_main",
                                    "supportbot.judge.compare:main", "supportbot.judge.reference.check:main",
                                    "supportbot.judge.calibration.agreement:main",
                                    "supportbot.judge.labelling.label_sheets:main",
                                    "supportbot.judge.labelling.rubric_sheet:main",
                                    "supportbot.data.__main__:main", "demo.py:main", "scripts/run_pipeline.py:main"])
def test_entry_points_run_through_run_cli(target: str) -> None:
    import importlib
    import importlib.util

    where, name = target.split(":")
    if where.endswith(".py"):
        spec = importlib.util.spec_from_file_location(Path(where).stem, ROOT / where)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(where)
    wrapped = getattr(module, name)
    assert wrapped.__wrapped__ is not wrapped and wrapped.__code__.co_name == "wrapped"  # cli_errors.cli_main


def test_pipeline_unknown_stage_is_one_error_line() -> None:
    line = _error_line(_run(["scripts/run_pipeline.py", "--until", "no-such-stage"]))
    assert line.startswith("error: --until no-such-stage: no such stage (stages: bootstrap")
