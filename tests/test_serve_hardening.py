"""Regression tests for the service defects of issue 13, each against a real server process (slow).

One module-scoped server with the real base model (input cap 8000, max_tokens cap 2000) serves most
tests; the dead-upstream test starts a model-less one, the context test one that must refuse to start.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from api_checks import error_of, wait_idle

from supportbot.serve.process import ServerProcess, free_port

pytestmark = pytest.mark.slow

USER = [{"role": "user", "content": "My printer says it is offline. What should I do?"}]


@pytest.fixture(scope="module")
def server(base_model_dir):
    args = ["--max-input-tokens", "8000", "--max-tokens-cap", "2000", "--queue-size", "8"]
    with ServerProcess.supportbot(models={"base": base_model_dir}, extra_args=args, name="test-hardening",
                                  extra_env={"SUPPORTBOT_API_KEY": ""}) as srv:
        yield srv


def _chat(client: httpx.Client, url: str, **body) -> httpx.Response:
    return client.post(url + "/v1/chat/completions", json={"messages": USER, "max_tokens": 6, **body}, timeout=120)


def test_huge_seed_is_a_422_and_fails_no_other_request(server):
    """Defect 1: seed 2**64 was a 500 for it and for the 3 requests batched with it, and reset the connection."""
    sampled = {"temperature": 0.8, "seed": 7}
    with httpx.Client() as bad_client, ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(lambda: _chat(httpx.Client(), server.url, **sampled)) for _ in range(3)]
        bad = [_chat(bad_client, server.url, temperature=0.8, seed=s) for s in (2**64, 2**70, -(2**63) - 1)]
        good = [f.result() for f in futures]
        again = _chat(bad_client, server.url, **sampled)  # same keep-alive connection as the bad ones
    for r in bad:
        assert r.status_code == 422, r.text
        assert "seed" in error_of(r.status_code, r.content)["message"]
    assert [r.status_code for r in good] == [200, 200, 200], [r.text for r in good]
    assert again.status_code == 200 and again.json()["choices"][0]["message"]["content"] is not None


def test_subnormal_temperature_decodes_greedily(server):
    """Found by the fuzz test: temperature 5e-324 made logits / T infinite, a 500 from torch.multinomial."""
    greedy = _chat(httpx.Client(), server.url, temperature=0)
    for t in (5e-324, 1e-300, 1e-6):
        r = _chat(httpx.Client(), server.url, temperature=t)
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["message"]["content"] == greedy.json()["choices"][0]["message"]["content"]


def test_a_failing_row_fails_alone_in_its_batch(base_model_dir):
    """Defect 1, below the schema: a row torch cannot seed fails alone; its batch-mates decode."""
    from supportbot.serve.backends import load_model
    from supportbot.serve.batching import GenParams, GenRequest, decode_batch

    tok, model = load_model(base_model_dir)
    ids = tok(tok.apply_chat_template(USER, add_generation_prompt=True, tokenize=False), add_special_tokens=False)["input_ids"]
    reqs = [GenRequest(list(ids), GenParams(max_tokens=3, temperature=0.5, seed=s)) for s in (1, 2**70, 2)]
    decode_batch(model, tok, reqs, {tok.eos_token_id}, tok.pad_token_id or 0)
    assert isinstance(reqs[1].future.exception(), (ValueError, RuntimeError, OverflowError))
    assert all(r.future.result().completion_tokens > 0 for r in (reqs[0], reqs[2]))


@pytest.mark.parametrize("where", ["user", "system", "stream", "stop", "ask"])
def test_lone_surrogate_is_a_422_naming_the_field(server, where):
    """Defect 2: '\\ud800' in any text field was a 500 (the tokenizer cannot encode it)."""
    bad = "hi \ud800"
    body: dict = {"messages": [{"role": "user", "content": bad}], "max_tokens": 4}
    path, field = "/v1/chat/completions", "messages.0.content"
    if where == "system":
        body["messages"] = [{"role": "system", "content": bad}, *USER]
    elif where == "stream":
        body["stream"] = True
    elif where == "stop":
        body = {"messages": USER, "stop": [bad]}
        field = "stop"
    elif where == "ask":
        path, body, field = "/ask", {"question": bad}, "question"
    raw = json.dumps(body).encode()  # ensure_ascii escapes the surrogate, as any JSON client may
    r = httpx.post(server.url + path, content=raw, headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code == 422, r.text
    msg = error_of(r.status_code, r.content)["message"]
    assert field in msg and ("surrogate" in msg or where == "ask")  # /ask was a 422 already (pydantic's wording)


def test_client_that_gives_up_cancels_its_request(server):
    """Defect 5: a non-streaming client that timed out kept its request decoding (queued: 1 for minutes)."""
    wait_idle(server.url)
    long = {"messages": USER, "max_tokens": 1500, "ignore_eos": True, "temperature": 0}
    t0 = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(server.url + "/v1/chat/completions", json=long, timeout=2.0)
    health = wait_idle(server.url, timeout=15)  # 1500 tokens would take minutes on 2 cores
    assert time.monotonic() - t0 < 20 and health["models"]["base"]["queued"] == 0
    assert _chat(httpx.Client(), server.url).status_code == 200


def test_prompt_plus_max_tokens_beyond_the_context_is_a_422(server):
    """Defect 8: with the input cap near the context, prompt + max_tokens beyond 8192 tokens answered garbage."""
    long = [{"role": "user", "content": "printer " * 7600}]
    r = httpx.post(server.url + "/v1/chat/completions", json={"messages": long, "max_tokens": 1000}, timeout=120)
    assert r.status_code == 422, r.text
    err = error_of(r.status_code, r.content)
    assert err["param"] == "max_tokens" and "context of model 'base' (8192 tokens)" in err["message"]


def test_input_cap_above_the_context_is_refused_at_start(base_model_dir):
    """Defect 8: --max-input-tokens 20000 on an 8192-token model started and served garbage."""
    cmd = [sys.executable, "-m", "supportbot.serve", "--model", f"base={base_model_dir}", "--port", str(free_port()),
           "--max-input-tokens", "20000"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2, res.stderr[-2000:]
    assert "--max-input-tokens 20000" in res.stderr and "context is 8192 tokens" in res.stderr


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/static/index.html%00.png", 404),  # defect 7: was a 500 (embedded null byte)
    ("GET", "/static/%00", 404),
    ("GET", "/no/such/page", 404),  # defect 12: was {"detail": ...}
    ("DELETE", "/v1/chat/completions", 405),
    ("PUT", "/ask", 405),
])
def test_framework_errors_are_in_the_api_error_shape(server, method, path, status):
    r = httpx.request(method, server.url + path, timeout=30)
    assert r.status_code == status, r.text
    err = error_of(r.status_code, r.content)
    assert method in err["message"] and err["code"] in {"not_found", "method_not_allowed"}


def test_unreadable_bodies_are_in_the_api_error_shape(server):
    """Defect 12: 400/422 for bodies that are not JSON (or nest too deep) keep the shape too."""
    for raw in (b"[" * 50000, b'{"messages": [', b"\xff\xfe"):
        r = httpx.post(server.url + "/v1/chat/completions", content=raw, headers={"content-type": "application/json"},
                       timeout=30)
        assert r.status_code in (400, 422), r.text
        error_of(r.status_code, r.content)


def test_dead_upstream_is_a_502_naming_it():
    """Defect 6: --upstream at a port nobody listens on gave 500 (httpx.ConnectError unhandled)."""
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with ServerProcess.supportbot(upstream=dead, name="test-dead-upstream", ready_path="/config",
                                  extra_env={"SUPPORTBOT_API_KEY": ""}) as srv:  # /healthz is 503 (fault O)
        cases = [("GET", "/v1/models", None),
                 ("POST", "/v1/chat/completions", {"model": "m", "messages": USER}),
                 ("POST", "/v1/chat/completions", {"messages": USER, "stream": True}),
                 ("POST", "/ask", {"question": "hi"})]
        for method, path, body in cases:
            r = httpx.request(method, srv.url + path, json=body, timeout=60)
            assert r.status_code == 502, (path, r.text)
            err = error_of(r.status_code, r.content)
            assert dead in err["message"] and "refused" in err["message"].lower() and err["code"] == "upstream_unavailable"
        assert httpx.get(srv.url + "/healthz", timeout=10).status_code == 503 and srv.alive()
