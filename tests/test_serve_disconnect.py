"""Clients that give up at every stage of their request, against a real service process (slow; issue 24).

Fault A: a client that disconnected while its request was still queued behind a running batch killed
the model's worker thread (``set_result`` on a cancelled future), and from then on no request was
answered while ``/healthz`` said ok. Here clients leave while queued, while their prompt is being
prefilled, while decoding and while streaming, several at once, and the next request must be answered.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from api_checks import wait_idle

from supportbot.serve.process import ServerProcess

pytestmark = pytest.mark.slow

USER = [{"role": "user", "content": "My printer says it is offline. What should I do?"}]
LONG_PROMPT = [{"role": "user", "content": "Why does my printer go offline? " * 700}]  # ~5,000 tokens to prefill


@pytest.fixture(scope="module")
def server(base_model_dir):
    args = ["--max-input-tokens", "6000", "--max-tokens-cap", "2000", "--queue-size", "32"]
    with ServerProcess.supportbot(models={"base": base_model_dir}, extra_args=args, name="test-disconnect",
                                  extra_env={"SUPPORTBOT_API_KEY": ""}) as srv:
        yield srv


def _post(url: str, timeout: float, **body) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", json={"messages": USER, "temperature": 0, **body}, timeout=timeout)


def _gives_up(url: str, timeout: float, **body) -> None:
    """A client that stops waiting after ``timeout`` s (its connection closes, as a killed client's does)."""
    with pytest.raises(httpx.ReadTimeout):
        _post(url, timeout, **body)


def _streams_then_leaves(url: str, chunks: int) -> int:
    """Read ``chunks`` server-sent events of a long stream, then close the connection."""
    body = {"messages": USER, "max_tokens": 1500, "ignore_eos": True, "stream": True}
    seen = 0
    with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=60) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            seen += line.startswith("data: ")
            if seen >= chunks:
                break
    return seen


def _answered(url: str) -> None:
    """The next request is answered (within a minute; before the fix it hung for ever)."""
    r = _post(url, 60, max_tokens=8)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"]


def test_fault_A_client_leaving_while_queued_keeps_the_worker_alive(server):
    """Fault A, as reported: A decodes (ignore_eos), B queues behind it and gives up after 1 s, C must answer."""
    wait_idle(server.url)
    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(_post, server.url, 300, max_tokens=300, ignore_eos=True)
        time.sleep(0.5)
        _gives_up(server.url, 1.0, max_tokens=8)
        assert a.result().status_code == 200
    _answered(server.url)
    health = wait_idle(server.url)
    assert health["models"]["base"]["alive"] is True


def test_clients_leaving_at_every_stage_under_concurrency(server):
    """Deliver 2: clients leave while queued, prefilling, decoding and streaming, at the same time as
    requests that finish; every finishing request is answered, then the server is idle and answers."""
    wait_idle(server.url)
    done: list[int] = []
    lock = threading.Lock()

    def finishing() -> None:
        r = _post(server.url, 300, max_tokens=12)
        with lock:
            done.append(r.status_code)

    with ThreadPoolExecutor(12) as pool:
        jobs = [pool.submit(_gives_up, server.url, 0.5, messages=LONG_PROMPT, max_tokens=4)]  # prefilling
        time.sleep(0.1)
        jobs += [pool.submit(_gives_up, server.url, 2.0, max_tokens=1500, ignore_eos=True) for _ in range(2)]  # decoding
        jobs += [pool.submit(_streams_then_leaves, server.url, 3) for _ in range(2)]  # streaming
        jobs += [pool.submit(finishing) for _ in range(3)]
        time.sleep(0.3)
        jobs += [pool.submit(_gives_up, server.url, 0.8, max_tokens=8) for _ in range(3)]  # queued behind the batch
        jobs += [pool.submit(finishing) for _ in range(2)]
        for job in jobs:
            job.result()
    assert done == [200] * 5
    wait_idle(server.url, timeout=120)
    _answered(server.url)
    with ThreadPoolExecutor(4) as pool:  # a batch of several still decodes
        assert [r.status_code for r in pool.map(lambda _: _post(server.url, 120, max_tokens=6), range(4))] == [200] * 4
