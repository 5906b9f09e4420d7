"""The shared port and readiness helpers (supportbot.netutil), their two callers' error messages, and serve_model."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from supportbot import netutil, serving, vllm_server
from supportbot.serve import process


@pytest.fixture
def models_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server: GET /healthz -> 200, GET /v1/models -> the ids in the yielded list, else 404."""
    ids: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path == "/v1/models":
                body = json.dumps({"data": [{"id": i} for i in ids]}).encode()
            elif self.path == "/healthz":
                body = b"{}"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", ids
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def test_free_port_is_bindable_and_port_in_use_sees_a_listener() -> None:
    port = netutil.free_port()
    assert not netutil.port_in_use("127.0.0.1", port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        assert netutil.port_in_use("127.0.0.1", port)
    assert process.free_port is vllm_server.free_port is netutil.free_port


def test_poll_returns_once_ready_and_waits_for_the_model(models_server) -> None:
    url, ids = models_server
    assert netutil.poll_http_ready(f"{url}/healthz", timeout=5, interval=0.05) >= 0
    with pytest.raises(netutil.NotReadyInTime, match="not ready after 0 s"):
        netutil.poll_http_ready(f"{url}/v1/models", timeout=0.2, interval=0.05, ready_model="m")
    ids.append("m")
    assert netutil.poll_http_ready(f"{url}/v1/models", timeout=5, interval=0.05, ready_model="m") >= 0
    with pytest.raises(netutil.NotReadyInTime):  # a 404 is not ready
        netutil.poll_http_ready(f"{url}/nope", timeout=0.2, interval=0.05)


def test_poll_stops_when_the_process_exits() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    proc.wait()
    url = f"http://127.0.0.1:{netutil.free_port()}/healthz"
    with pytest.raises(netutil.ExitedBeforeReady) as err:
        netutil.poll_http_ready(url, timeout=5, interval=0.05, proc=proc)
    assert err.value.returncode == 3


def test_callers_keep_their_error_messages(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{netutil.free_port()}"
    with pytest.raises(process.ServerStartError, match=rf"^{url}/healthz not ready after 0 s$"):
        process.wait_http_ready(f"{url}/healthz", timeout=0.1, interval=0.05)
    log = tmp_path / "vllm.log"
    log.write_text("line one\nline two\n")
    with pytest.raises(vllm_server.VllmServerError) as err:
        vllm_server.wait_ready(f"{url}/v1", "m", timeout=0.1, log=log)
    assert str(err.value) == f"vLLM not ready at {url}/v1 after 0 s\n--- last 2 lines of {log} ---\nline one\nline two"
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(2)"])
    proc.wait()
    with pytest.raises(process.ServerStartError, match=rf"^server exited with code 2 before {url}/healthz was ready$"):
        process.wait_http_ready(f"{url}/healthz", timeout=5, proc=proc)
    with pytest.raises(vllm_server.VllmServerError, match=r"^vLLM exited with code 2 before it was ready$"):
        vllm_server.wait_ready(f"{url}/v1", "m", timeout=5, proc=proc)


def test_serve_model_vllm_starts_and_stops_through_vllm_server(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple] = []

    def fake_start(cfg, **kw):
        cfg.port = 4321
        calls.append(("start", cfg, kw))
        return {"url": cfg.url}

    monkeypatch.setattr(vllm_server, "start", fake_start)
    monkeypatch.setattr(vllm_server, "stop", lambda *a, **kw: calls.append(("stop", a, kw)))
    with serving.serve_model("vllm", "tuned", Path("m"), enforce_eager=True) as url:
        assert url == "http://127.0.0.1:4321/v1"
    (_, cfg, kw), stop = calls
    assert kw == {} and cfg.port == 4321 and cfg.enforce_eager and cfg.name == "tuned" and cfg.model_dir == Path("m")
    assert stop == ("stop", ("tuned",), {"quiet": True})
    calls.clear()
    seen = []
    with serving.serve_model("vllm", "j", Path("m"), timeout=12, quiet=True, max_model_len=64, dtype="float32",
                             on_ready=lambda u, log: seen.append((u, log.name))):
        pass
    (_, cfg, kw), _stop = calls
    assert kw == {"timeout": 12, "quiet": True} and cfg.max_model_len == 64 and cfg.dtype == "float32" and not cfg.enforce_eager
    assert seen == [("http://127.0.0.1:4321/v1", "vllm-j.log")]


def test_serve_model_app_uses_server_process(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict = {}

    class FakeProcess:
        base_url, log_path = "http://127.0.0.1:1/v1", Path("x.log")

        @classmethod
        def supportbot(cls, **kw):
            seen["kw"] = kw
            return cls()

        def __enter__(self):
            seen["entered"] = True
            return self

        def __exit__(self, *exc):
            seen["exited"] = True

    monkeypatch.setattr(serving, "ServerProcess", FakeProcess)
    with serving.serve_model("app", "base", Path("models/b"), enforce_eager=True) as url:
        assert url == FakeProcess.base_url
    assert seen == {"kw": {"models": {"base": "models/b"}}, "entered": True, "exited": True}
    with serving.serve_model("app", "judge", Path("d"), timeout=5, label="judge-x"):
        pass
    assert seen["kw"] == {"models": {"judge": "d"}, "timeout": 5, "name": "judge-x"}
    with pytest.raises(ValueError, match="engine must be one of vllm, app"), serving.serve_model("gguf", "x", Path("d")):
        pass
