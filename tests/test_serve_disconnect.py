"""Clients that give up at every stage of their request, against a real service process (slow; issue 24).

Fault A: a client that disconnected while its request was still queued behind a running batch killed
the model's worker thread (``set_result`` on a cancelled future), and from then on no request was
answered while ``/healthz`` said ok. Here clients leave while queued, while their prompt is being
prefilled, while decoding and while streaming, several at once, and the next request must be answered.

The stages are reached by what the server reports, not by sleeping (so a slow, busy machine reaches
them too): a client that leaves is a raw socket that sent its request and is closed once ``/healthz``
shows the request queued or its batch started, or once a stream beside it is decoding.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from api_checks import wait_idle

from supportbot.serve.process import ServerProcess

pytestmark = pytest.mark.slow

USER = [{"role": "user", "content": "My printer says it is offline. What should I do?"}]
LONG_PROMPT = [{"role": "user", "content": "Why does my printer go offline? " * 700}]  # ~5,000 tokens to prefill
ENDLESS = {"max_tokens": 2000, "ignore_eos": True}  # decodes until its client leaves
ANSWER_S = 600  # a finishing request's client waits this long (2 busy cores can be very slow)


@pytest.fixture(scope="module")
def server(base_model_dir):
    args = ["--max-input-tokens", "6000", "--max-tokens-cap", "2000", "--queue-size", "32"]
    with ServerProcess.supportbot(models={"base": base_model_dir}, extra_args=args, name="test-disconnect",
                                  extra_env={"SUPPORTBOT_API_KEY": ""}) as srv:
        yield srv


class Leaver:
    """A client that sends a chat request on a raw socket and later goes away (closes the connection,
    as a killed or timed-out client does), having had no answer."""

    def __init__(self, url: str, **body) -> None:
        host, port = url.removeprefix("http://").split(":")
        data = json.dumps({"messages": USER, "temperature": 0, **body}).encode()
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (len(data), data))

    def leave(self) -> None:
        self.sock.setblocking(False)
        try:
            got = self.sock.recv(1)
        except BlockingIOError:
            got = b""
        self.sock.close()
        assert not got, "the answer came before the client left: this stage was not tested"


def _health(url: str) -> dict:
    return httpx.get(url + "/healthz", timeout=60).json()["models"]["base"]


def _until(what: str, check: Callable[[], bool], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not reached after {timeout} s: {what}"
        time.sleep(0.05)


def _post(url: str, timeout: float = ANSWER_S, **body) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", json={"messages": USER, "temperature": 0, **body}, timeout=timeout)


def _answered(url: str) -> None:
    """The next request is answered within 3 minutes (before the fix it hung for ever)."""
    r = _post(url, timeout=180, max_tokens=8)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"]


def _stream_until(url: str, chunks: int, then: Callable[[], None]) -> None:
    """Read ``chunks`` server-sent events of an endless stream, call ``then``, then close the connection.

    The line iterator is kept until the end: dropping it (a bare ``for ... break``) closes httpx's
    generator, and httpcore closes an unfinished response's connection at once, so the client would
    leave before ``then`` ran (that raced the stage this test sets up, and lost on a busy CI machine)."""
    with httpx.stream("POST", url + "/v1/chat/completions", timeout=ANSWER_S,
                      json={"messages": USER, "stream": True, **ENDLESS}) as r:
        assert r.status_code == 200
        lines, seen = r.iter_lines(), 0
        for line in lines:
            seen += line.startswith("data: ")
            if seen >= chunks:
                break
        then()
        assert _health(url)["queued"] >= 1, "this stream's row ended before its client left"
        del lines  # closes the connection: the client leaves while its row decodes


def test_fault_A_client_leaving_while_queued_keeps_the_worker_alive(server):
    """Fault A, as reported: A decodes, B queues behind it and its client leaves, then A's leaves; C must
    be answered and the worker is alive."""
    before = wait_idle(server.url)["models"]["base"]
    a = Leaver(server.url, **ENDLESS)
    _until("A's batch started", lambda: _health(server.url)["batches_run"] > before["batches_run"])
    b = Leaver(server.url, max_tokens=8)
    _until("B queued behind A", lambda: _health(server.url)["queued"] == 2)
    b.leave()
    time.sleep(0.5)  # B's cancellation reaches the server while A still decodes
    a.leave()
    _answered(server.url)
    health = wait_idle(server.url, timeout=120)["models"]["base"]
    assert health["alive"] is True and health["largest_batch"] == 1  # B never joined A's batch: it was queued


def test_clients_leaving_at_every_stage_under_concurrency(server):
    """Deliver 2: clients leave while prefilling and queued (phase 1), while decoding and streaming
    (phase 2), beside requests that finish; every finishing request is answered, then the server is idle
    and answers, one request and a batch of four."""
    with ThreadPoolExecutor(8) as pool:
        # phase 1: a long prompt is prefilled; two leavers and two finishing requests queue behind it
        start = wait_idle(server.url)["models"]["base"]["batches_run"]
        prefilling = Leaver(server.url, messages=LONG_PROMPT, max_tokens=4)
        _until("the long prompt's batch started", lambda: _health(server.url)["batches_run"] > start)
        queued = [Leaver(server.url, max_tokens=8) for _ in range(2)]
        finishing = [pool.submit(_post, server.url, max_tokens=6) for _ in range(2)]
        _until("4 requests queued behind the prefill", lambda: _health(server.url)["queued"] == 5)
        for client in (prefilling, *queued):
            client.leave()
        assert [f.result().status_code for f in finishing] == [200, 200]

        # phase 2: a stream decodes alone; five requests queue behind it, then its client leaves (streaming);
        # the five decode as one batch, and once the stream among them is decoding, two plain clients
        # leave mid-decode, then the stream's client; the two finishing requests are answered
        wait_idle(server.url, timeout=120)
        later: dict = {}

        def queue_five_behind() -> None:
            later["decoding"] = [Leaver(server.url, **ENDLESS) for _ in range(2)]
            later["finishing"] = [pool.submit(_post, server.url, max_tokens=12) for _ in range(2)]
            later["stream"] = pool.submit(_stream_until, server.url, 3, lambda: [c.leave() for c in later["decoding"]])
            _until("5 requests queued behind the first stream", lambda: _health(server.url)["queued"] == 6)

        pool.submit(_stream_until, server.url, 3, queue_five_behind).result()
        later["stream"].result()
        assert [f.result().status_code for f in later["finishing"]] == [200, 200]

    wait_idle(server.url, timeout=300)  # every row that lost its client stopped: nothing left decoding
    _answered(server.url)
    with ThreadPoolExecutor(4) as pool:  # a batch of several still decodes
        assert [r.status_code for r in pool.map(lambda _: _post(server.url, max_tokens=6), range(4))] == [200] * 4
    assert _health(server.url)["alive"] is True
    assert "Exception in thread" not in server.log_path.read_text()
