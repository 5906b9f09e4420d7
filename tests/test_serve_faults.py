"""Regression tests for the service faults of issue 24 (J, K, L, M, O, P), real servers over real HTTP (slow).

Each test names its fault. The in-process model runs in a server process; the dead-worker tests run
the app under uvicorn in this process, so that the test can stop the worker thread it serves from.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from api_checks import error_of
from judge_fake import FakeJudge

from supportbot.serve.process import ServerProcess, free_port

pytestmark = pytest.mark.slow

USER = [{"role": "user", "content": "My printer says it is offline. What should I do?"}]
NO_KEY = {"SUPPORTBOT_API_KEY": ""}
BIG = 8_000_000


@pytest.fixture(scope="module")
def server(base_model_dir):
    args = ["--max-body-bytes", str(BIG), "--max-tokens-cap", "16"]
    with ServerProcess.supportbot(models={"base": base_model_dir}, extra_args=args, name="test-faults",
                                  extra_env=NO_KEY) as srv:
        yield srv


@pytest.fixture()
def fake_upstream():
    fake = FakeJudge()
    with ServerProcess.supportbot(upstream=fake.base_url, name="test-faults-upstream", extra_env=NO_KEY) as srv:
        yield fake, srv
    fake.close()


def _raw(url: str, data: bytes) -> tuple[int, bytes]:
    """Send raw bytes, return the status and body of the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(data)
        got = b""
        while chunk := sock.recv(65536):
            got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize("data", [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\nZZZ\r\n{}\r\n0\r\n\r\n",
])
def test_fault_P_protocol_level_400_is_in_the_json_error_shape(server, data):
    """Fault P: uvicorn answered bytes that are not HTTP with a plain-text 400."""
    status, body = _raw(server.url, data)
    assert status == 400
    err = error_of(status, body)
    assert err["message"].startswith("invalid HTTP request") and err["code"] == "bad_request"
    assert httpx.get(server.url + "/healthz", timeout=30).status_code == 200


def test_fault_L_body_above_the_limit_is_a_413(server):
    """Fault L: no request-body size limit."""
    body = b'{"messages": [{"role": "user", "content": "' + b"a" * BIG + b'"}]}'
    r = httpx.post(server.url + "/v1/chat/completions", content=body, headers={"content-type": "application/json"},
                   timeout=60)
    assert r.status_code == 413
    assert "--max-body-bytes" in error_of(r.status_code, r.content)["message"]

    def chunked():  # no Content-Length: counted as it arrives
        yield body[: BIG // 2]
        yield body[BIG // 2:]

    r = httpx.post(server.url + "/v1/chat/completions", content=chunked(), timeout=60,
                   headers={"content-type": "application/json"})
    assert r.status_code == 413 and error_of(r.status_code, r.content)["code"] == "request_too_large"


def test_fault_L_echoed_model_name_is_cut_short(server):
    """Fault L: a 1 MB model name came back whole in the 404."""
    r = httpx.post(server.url + "/v1/chat/completions", json={"model": "m" * 1_000_000, "messages": USER}, timeout=60)
    assert r.status_code == 404 and len(r.content) < 2000
    assert "(1000000 characters)" in error_of(r.status_code, r.content)["message"]


def test_fault_L_big_prompts_do_not_hold_up_healthz(server):
    """Fault L: tokenising ran on the event loop, four 5 MB prompts at once delayed /healthz by 3.2 s."""
    huge = [{"role": "user", "content": "printer offline " * 330_000}]  # ~5 MB

    def post(_):
        return httpx.post(server.url + "/v1/chat/completions", json={"messages": huge, "max_tokens": 4}, timeout=300)

    worst = 0.0
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(post, i) for i in range(4)]
        time.sleep(0.5)
        while not all(f.done() for f in futures):
            t0 = time.perf_counter()
            assert httpx.get(server.url + "/healthz", timeout=60).status_code == 200
            worst = max(worst, time.perf_counter() - t0)
            time.sleep(0.05)
    assert [f.result().status_code for f in futures] == [422] * 4  # above the input-token cap
    assert worst < 1.0, f"/healthz took {worst:.2f} s while the prompts were tokenised"


def test_fault_J_port_out_of_range_is_a_usage_error(base_model_dir):
    """Fault J: --port 70000 loaded the model, then died with an OverflowError traceback."""
    cmd = [sys.executable, "-m", "supportbot.serve", "--model", f"base={base_model_dir}", "--port", "70000"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "port 70000 is out of range" in res.stderr


def test_fault_O_healthz_is_503_with_a_dead_upstream():
    """Fault O: /healthz said ok while the upstream refused every connection."""
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with ServerProcess.supportbot(upstream=dead, name="test-faults-dead", ready_path="/config", extra_env=NO_KEY) as srv:
        r = httpx.get(srv.url + "/healthz", timeout=30)
    assert r.status_code == 503
    err = error_of(r.status_code, r.content)
    assert err["code"] == "upstream_unavailable" and dead in err["message"]


def test_fault_M_upstream_500_is_a_502_in_the_full_shape(fake_upstream):
    """Fault M: an upstream 500 came back as 500 with only {"error": {"message"}}."""
    fake, srv = fake_upstream
    fake.always = 500
    r = httpx.post(srv.url + "/v1/chat/completions", json={"model": "fake-judge", "messages": USER}, timeout=60)
    assert r.status_code == 502
    err = error_of(r.status_code, r.content)
    assert err["type"] == "upstream_error" and "upstream answered 500: injected" in err["message"]
    fake.always = 400  # the request's own fault keeps its status, in the full shape
    r = httpx.post(srv.url + "/v1/chat/completions", json={"model": "fake-judge", "messages": USER}, timeout=60)
    assert r.status_code == 400 and error_of(r.status_code, r.content)["message"] == "upstream: injected"


def test_fault_K_non_sse_answer_to_a_stream_is_a_502(fake_upstream):
    """Fault K: an upstream 200 with an HTML body to stream: true gave the client 200 and only [DONE]."""
    fake, srv = fake_upstream
    fake.always = "garbage-body"
    body = {"model": "fake-judge", "messages": USER, "stream": True}
    r = httpx.post(srv.url + "/v1/chat/completions", json=body, timeout=60)
    assert r.status_code == 502
    err = error_of(r.status_code, r.content)
    assert "not an event stream" in err["message"] and "bad gateway" in err["message"]
    fake.always = None
    assert httpx.get(srv.url + "/healthz", timeout=30).status_code == 200


@pytest.fixture()
def in_process(base_model_dir):
    """The app with the in-process backend under uvicorn in this process: (url, backend)."""
    import uvicorn

    from supportbot.serve.app import create_app
    from supportbot.serve.backends import TransformersBackend
    from supportbot.serve.guards import JsonErrorH11Protocol
    from supportbot.serve.settings import Settings

    backend = TransformersBackend({"base": base_model_dir})
    port = free_port()
    app = create_app(Settings(models={"base": base_model_dir}, port=port), backend)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", http=JsonErrorH11Protocol))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    while not srv.started:
        time.sleep(0.05)
    yield url, backend
    srv.should_exit = True
    thread.join(30)
    backend.close()


@pytest.mark.parametrize("how", ["closed", "died"])
def test_fault_O_healthz_is_503_with_a_dead_worker(in_process, how):
    """Fault O: /healthz said ok with a dead worker, and chat requests waited for ever. Now: 503 both."""
    url, backend = in_process
    assert httpx.get(url + "/healthz", timeout=30).status_code == 200
    worker = backend.workers["base"]
    if how == "closed":
        worker.close()
    else:
        worker._q.put(object())  # not a request: the loop fails outside any batch, as a bug would
        worker._thread.join(30)
    r = httpx.get(url + "/healthz", timeout=30)
    assert r.status_code == 503
    err = error_of(r.status_code, r.content)
    assert err["code"] == "worker_dead" and ("was closed" if how == "closed" else "died: AttributeError") in err["message"]
    r = httpx.post(url + "/v1/chat/completions", json={"messages": USER, "max_tokens": 4}, timeout=30)
    assert r.status_code == 503 and error_of(r.status_code, r.content)["code"] == "worker_dead"
