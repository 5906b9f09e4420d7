"""The support service as a real process on a free port with the real base model (slow).

One module-scoped server (small caps, --queue-size 4) is shared by most tests; the API-key test and
the upstream test start their own small servers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from openai import OpenAI

from supportbot.serve.process import ServerProcess

pytestmark = pytest.mark.slow

QUESTION = [{"role": "system", "content": "You are a helpful IT support assistant."},
            {"role": "user", "content": "My printer says it is offline. What should I do?"}]
CAPS = ["--max-tokens-cap", "64", "--max-input-tokens", "512", "--queue-size", "4"]


@pytest.fixture(scope="module")
def server(base_model_dir):
    with ServerProcess.supportbot(models={"base": base_model_dir}, extra_args=CAPS, name="test-serve",
                                  extra_env={"SUPPORTBOT_API_KEY": ""}) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    return OpenAI(base_url=server.base_url, api_key="EMPTY", max_retries=0, timeout=120)


def test_openai_client_gets_an_answer(client):
    models = [m.id for m in client.models.list().data]
    assert models == ["base"]
    resp = client.chat.completions.create(model="base", messages=QUESTION, temperature=0, max_tokens=24)
    choice = resp.choices[0]
    assert choice.message.role == "assistant" and choice.message.content.strip()
    assert choice.finish_reason in {"stop", "length"}
    assert 0 < resp.usage.completion_tokens <= 24 and resp.usage.prompt_tokens > 10


def test_stream_reassembles_to_the_non_streamed_text(client):
    kw = dict(model="base", messages=QUESTION, temperature=0, max_tokens=40, seed=0)
    full = client.chat.completions.create(**kw)
    chunks = list(client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kw))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content and text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [full.choices[0].finish_reason]
    assert chunks[-1].usage.completion_tokens == full.usage.completion_tokens


def test_raw_sse_ends_with_done(server):
    body = {"messages": QUESTION, "temperature": 0, "max_tokens": 5, "stream": True}
    with httpx.stream("POST", server.base_url + "/chat/completions", json=body, timeout=120) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [line[len("data: "):] for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    first = json.loads(events[0])
    assert first["object"] == "chat.completion.chunk" and first["choices"][0]["delta"]["role"] == "assistant"


def test_top_logprobs_for_a_one_token_verdict(client):
    resp = client.chat.completions.create(model="base", messages=QUESTION, temperature=0, max_tokens=1,
                                          logprobs=True, top_logprobs=5)
    content = resp.choices[0].logprobs.content
    assert len(content) == 1
    tok = content[0]
    top = tok.top_logprobs
    assert len(top) == 5 and len({t.token for t in top}) == 5
    lps = [t.logprob for t in top]
    assert lps == sorted(lps, reverse=True) and all(lp <= 0 for lp in lps)
    assert sum(2.718281828 ** lp for lp in lps) <= 1.0 + 1e-4
    # greedy: the chosen token is the most likely one, and it is the text returned
    assert tok.token == top[0].token and tok.logprob == pytest.approx(lps[0])
    assert resp.choices[0].message.content == tok.token.strip() or resp.choices[0].message.content == tok.token
    assert bytes(tok.bytes).decode("utf-8") == tok.token


@pytest.mark.parametrize("body, needle", [
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "role"),
    ({"messages": [{"role": "user", "content": "x"}], "n": 3}, "n:"),
    ({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "temperature"),
    ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 65}, "--max-tokens-cap"),
    ({"messages": [{"role": "user", "content": "word " * 800}]}, "--max-input-tokens"),
    ({"messages": [{"role": "user", "content": "x"}], "logprobs": "yes please"}, "logprobs"),
])
def test_bad_bodies_get_422_with_a_clear_message(server, body, needle):
    r = httpx.post(server.base_url + "/chat/completions", json=body, timeout=60)
    assert r.status_code == 422, r.text
    assert needle in r.json()["error"]["message"]


def test_unknown_model_is_404(server):
    r = httpx.post(server.base_url + "/chat/completions", json={"model": "nope", "messages": QUESTION}, timeout=60)
    assert r.status_code == 404 and "base" in r.json()["error"]["message"]


def test_overload_gives_503_and_the_server_stays_up(server):
    body = {"messages": QUESTION, "temperature": 0, "max_tokens": 24}

    def post(_):
        return httpx.post(server.base_url + "/chat/completions", json=body, timeout=180).status_code

    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(post, range(12)))
    assert set(codes) <= {200, 503}, codes
    assert codes.count(503) >= 1 and codes.count(200) >= 1, codes
    assert server.alive()
    assert httpx.get(server.url + "/healthz", timeout=30).status_code == 200
    assert post(0) == 200


def test_ask(server):
    r = httpx.post(server.url + "/ask", json={"question": "How do I clear the cache in Chrome?", "max_tokens": 24},
                   timeout=120)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["model"] == "base" and data["answer"].strip() and data["completion_tokens"] <= 24
    assert httpx.post(server.url + "/ask", json={"question": "x", "max_tokens": 100}, timeout=60).status_code == 422


def test_docs_and_page(server):
    assert httpx.get(server.url + "/docs", timeout=30).status_code == 200
    spec = httpx.get(server.url + "/openapi.json", timeout=30).json()
    assert {"/v1/chat/completions", "/v1/models", "/ask", "/healthz"} <= set(spec["paths"])
    page = httpx.get(server.url + "/", timeout=30)
    assert page.status_code == 200 and 'id="model"' in page.text and "http" not in page.text.split("<body>")[0]
    assert httpx.get(server.url + "/static/app.js", timeout=30).status_code == 200


def test_generate_writes_answers_and_resumes(server, repo_root, tmp_path):
    out = tmp_path / "answers.jsonl"
    cmd = [sys.executable, str(repo_root / "eval" / "generate.py"), "--base-url", server.base_url, "--model", "base",
           "--out", str(out), "--eval", str(repo_root / "tests" / "fixtures" / "eval_tiny.jsonl"), "--limit", "3",
           "--max-tokens", "16", "--concurrency", "2", "--no-progress"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 3 and len({r["id"] for r in rows}) == 3
    assert all(r["answer"].strip() and 0 < r["completion_tokens"] <= 16 and r["model"] == "base" for r in rows)
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "3 already there, 0 new" in again.stderr
    assert out.read_text().count("\n") == 3


def test_upstream_backend_relays_to_an_openai_endpoint(server, client):
    """A second service in --upstream mode in front of the first one: same answers, streamed too."""
    kw = dict(model="base", messages=QUESTION, temperature=0, max_tokens=16)
    direct = client.chat.completions.create(**kw).choices[0].message.content
    with ServerProcess.supportbot(upstream=server.base_url, name="test-upstream",
                                  extra_args=["--max-tokens-cap", "64"]) as front:
        c = OpenAI(base_url=front.base_url, api_key="EMPTY", max_retries=0, timeout=120)
        assert [m.id for m in c.models.list().data] == ["base"]
        assert c.chat.completions.create(**kw).choices[0].message.content == direct
        streamed = "".join(ch.choices[0].delta.content or "" for ch in c.chat.completions.create(stream=True, **kw)
                           if ch.choices)
        assert streamed == direct
        r = httpx.post(front.base_url + "/chat/completions", json={**kw, "model": "nope"}, timeout=60)
        assert r.status_code == 404


def test_api_key_is_enforced_when_set(base_model_dir):
    key = "test-key-0123456789"
    with ServerProcess.supportbot(models={"base": base_model_dir}, name="test-key", api_key=key,
                                  extra_env={"SUPPORTBOT_API_KEY": key}) as srv:
        assert httpx.get(srv.url + "/healthz", timeout=30).status_code == 200  # health stays open
        assert httpx.get(srv.base_url + "/models", timeout=30).status_code == 401
        wrong = httpx.post(srv.url + "/ask", json={"question": "hi"}, headers={"Authorization": "Bearer nope"},
                           timeout=30)
        assert wrong.status_code == 401 and "API key" in wrong.json()["error"]["message"]
        resp = OpenAI(base_url=srv.base_url, api_key=key, max_retries=0, timeout=120).chat.completions.create(
            model="base", messages=QUESTION, temperature=0, max_tokens=4)
        assert resp.choices[0].message.content
        log_text = srv.log_path.read_text()
    assert key not in log_text


def test_web_page_answers_in_headless_chromium(server):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(server.url + "/")
            expect(page.locator("#model option")).to_have_count(1, timeout=30_000)
            assert page.locator("#model").input_value() == "base"
            page.fill("#max-tokens", "16")
            page.fill("#question", "My laptop will not connect to Wi-Fi. Any ideas?")
            page.click("#send")
            answer = page.locator(".msg.assistant[data-state=done] .text")
            expect(answer).to_have_count(1, timeout=120_000)
            assert answer.inner_text().strip()
            assert page.locator(".msg.user .text").inner_text().startswith("My laptop")
        finally:
            browser.close()


def test_demo_one_shot_against_the_server_and_locally(server, repo_root, tmp_path):
    demo = [sys.executable, str(repo_root / "demo.py"), "--max-tokens", "8"]
    remote = subprocess.run([*demo, "--base-url", server.base_url, "my printer is offline"],
                            capture_output=True, text=True, timeout=120)
    assert remote.returncode == 0, remote.stderr
    assert remote.stdout.startswith("[base] ") and len(remote.stdout.strip()) > len("[base]")
    assert "no model 'tuned'" in remote.stderr
    local = subprocess.run([*demo, "--tuned-dir", str(tmp_path / "missing"), "my printer is offline"],
                           capture_output=True, text=True, timeout=180)
    assert local.returncode == 0, local.stderr
    assert "no tuned model" in local.stderr and local.stdout.startswith("[base] ")
    # greedy both ways: the in-process answer is the served one
    assert local.stdout.strip() == remote.stdout.strip()
