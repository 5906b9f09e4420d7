"""Property-based fuzzing of the service's HTTP API against real server processes (slow; issue 13).

Two services, each a real process: the in-process model backend with the real base model, and the
``--upstream`` backend in front of the fake OpenAI-style endpoint (a real HTTP server on 127.0.0.1).
Both run with tiny caps (4 new tokens, 160 prompt tokens) so that every valid request decodes fast.

- schemathesis draws valid and invalid requests for every operation of the app's own OpenAPI schema;
- hypothesis draws raw JSON bodies with what schemas do not describe: lone surrogates, NUL and other
  control characters, 70-bit integers, NaN/Infinity, wrong types, unknown keys.

Every answer must be a 2xx, a 4xx or the deliberate 503, every error in the ``{"error": {...}}``
shape, and the server must be idle and answering afterwards. Bounded: a fixed number of examples
per operation and test (``EXAMPLES``: fewer where valid requests run the model), derandomized, no
example database.
"""

from __future__ import annotations

import json

import httpx
import pytest
import schemathesis
from api_checks import check_answer, error_of, wait_idle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from judge_fake import FakeJudge
from schemathesis import GenerationMode

from supportbot.serve.process import ServerProcess

pytestmark = pytest.mark.slow

EXAMPLES = {"model": 20, "upstream": 50}  # per operation and test; ~1 s per decoded request on 2 busy cores
CAPS = ["--max-tokens-cap", "4", "--default-max-tokens", "4", "--max-input-tokens", "160", "--queue-size", "64"]


def bounded(srv: ServerProcess) -> settings:
    kind = "upstream" if srv.name.endswith("upstream") else "model"
    return settings(max_examples=EXAMPLES[kind], deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module", params=["model", "upstream"])
def service(request, base_model_dir):
    env = {"SUPPORTBOT_API_KEY": ""}
    if request.param == "model":
        with ServerProcess.supportbot(models={"base": base_model_dir}, extra_args=CAPS, name="test-fuzz",
                                      extra_env=env) as srv:
            yield srv
        return
    fake = FakeJudge()
    try:
        with ServerProcess.supportbot(upstream=fake.base_url, extra_args=CAPS, name="test-fuzz-upstream",
                                      extra_env=env) as srv:
            yield srv
    finally:
        fake.close()


def _operations(srv: ServerProcess) -> list:
    schema = schemathesis.openapi.from_dict(httpx.get(srv.url + "/openapi.json", timeout=30).json())
    return [result.ok() for result in schema.get_all_operations()]


def _fuzz(srv: ServerProcess, op, mode: GenerationMode) -> None:
    @bounded(srv)
    @given(case=op.as_strategy(generation_mode=mode))
    def one(case):
        resp = case.call(base_url=srv.url, timeout=120)
        check_answer(resp.status_code, resp.content, (resp.headers.get("content-type") or [""])[0],
                     f"{op.method.upper()} {op.path} {case.body!r}"[:300])

    one()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_schemathesis_every_operation(service, mode):
    for op in _operations(service):
        if mode == GenerationMode.NEGATIVE and not op.body:
            continue  # a GET without parameters has no invalid input
        _fuzz(service, op, mode)
    wait_idle(service.url)
    assert service.alive()


TEXT = st.text(st.characters(exclude_categories=()), max_size=40)  # surrogates and control characters included
ODD = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
                TEXT, st.lists(TEXT, max_size=3), st.dictionaries(TEXT, TEXT, max_size=2))
MESSAGE = st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant", "tool", ""]),
                                 "content": st.one_of(TEXT, ODD)})
CHAT = st.fixed_dictionaries(
    {"messages": st.one_of(st.lists(MESSAGE, min_size=1, max_size=3), ODD)},
    optional={"seed": st.one_of(st.integers(-(2**80), 2**80), ODD), "temperature": st.one_of(st.floats(0, 2), ODD),
              "top_p": ODD, "max_tokens": st.one_of(st.integers(-3, 8), st.integers(2**62, 2**70), ODD),
              "stop": st.one_of(TEXT, st.lists(TEXT, max_size=5), ODD), "logprobs": ODD,
              "top_logprobs": st.one_of(st.integers(-2, 25), ODD), "stream": st.booleans(), "n": ODD,
              "model": st.one_of(st.sampled_from(["base", "fake-judge"]), ODD), "user": ODD, "unknown_key": ODD})


def _post(srv: ServerProcess, path: str, body: object) -> httpx.Response:
    raw = json.dumps(body, allow_nan=True).encode()  # ASCII: surrogates escaped, NaN/Infinity as literals
    return httpx.post(srv.url + path, content=raw, headers={"content-type": "application/json"}, timeout=120)


def _check_stream(resp: httpx.Response) -> None:
    events = [line[len("data: "):] for line in resp.text.splitlines() if line.startswith("data: ")]
    assert events and events[-1] == "[DONE]", resp.text[:300]
    for data in events[:-1]:
        event = json.loads(data)
        if "error" in event:
            error_of(500, data.encode())


def test_hypothesis_raw_bodies(service):
    @bounded(service)
    @given(body=CHAT)
    def chat(body):
        resp = _post(service, "/v1/chat/completions", body)
        check_answer(resp.status_code, resp.content, resp.headers.get("content-type", ""), repr(body)[:300])
        if resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream"):
            _check_stream(resp)

    @bounded(service)
    @given(body=st.fixed_dictionaries({"question": st.one_of(TEXT, ODD)},
                                      optional={"max_tokens": st.one_of(st.integers(-2, 6), ODD), "model": ODD}))
    def ask(body):
        resp = _post(service, "/ask", body)
        check_answer(resp.status_code, resp.content, resp.headers.get("content-type", ""), repr(body)[:300])

    chat()
    ask()
    health = wait_idle(service.url)
    assert health["status"] == "ok" and service.alive()
    ok = httpx.post(service.url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]},
                    timeout=120)
    assert ok.status_code == 200 and ok.json()["choices"][0]["finish_reason"] in {"stop", "length"}
