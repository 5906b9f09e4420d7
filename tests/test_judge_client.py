"""Cache, resume, retries and repair against a local fault-injecting OpenAI-style HTTP endpoint.

The endpoint is a real HTTP server on 127.0.0.1 (a test double: it plays 429s, 500s, timeouts,
garbage bodies and garbage verdicts, which a real model cannot be made to produce on demand).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from judge_fake import FakeJudge

from supportbot.judge.endpoint.client import JudgeCallError, JudgeClient
from supportbot.judge.endpoint.config import JudgeConfig
from supportbot.judge.graders import pairwise as pw
from supportbot.judge.graders.parse import UNPARSEABLE
from supportbot.judge.graders.verdicts import ask
from supportbot.judge.inputs import load_eval_items

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fake():
    f = FakeJudge()
    yield f
    f.close()


def make_client(fake: FakeJudge, tmp_path: Path, **cfg) -> JudgeClient:
    c = JudgeConfig(name="fake", model="fake-judge", base_url=fake.base_url, timeout_s=cfg.pop("timeout_s", 1.0),
                    max_retries=cfg.pop("max_retries", 4), **cfg)
    return JudgeClient(c, cache_path=tmp_path / "cache.jsonl", backoff_base=0.01, backoff_max=0.05)


MSGS = [{"role": "user", "content": "<<<ANSWER A\nGOOD\nEND OF ANSWER A>>>"}]


def test_retries_429_500_garbage_body_then_succeeds(fake, tmp_path):
    fake.script = [429, 500, 503, "garbage-body"]
    client = make_client(fake, tmp_path)
    resp = client.complete(MSGS)
    assert json.loads(resp["content"])["verdict"] == "A"
    assert client.stats.calls == 5 and client.stats.retries == 4 and len(fake.requests) == 5


def test_retries_a_timeout(fake, tmp_path):
    fake.script = ["sleep"]
    client = make_client(fake, tmp_path, timeout_s=0.5)
    assert json.loads(client.complete(MSGS)["content"])["verdict"] == "A"
    assert client.stats.retries == 1


def test_gives_up_after_max_retries_and_caches_nothing(fake, tmp_path):
    fake.always = 500
    client = make_client(fake, tmp_path, max_retries=2)
    with pytest.raises(JudgeCallError, match="InternalServerError"):
        client.complete(MSGS)
    assert len(fake.requests) == 3 and len(client.cache) == 0
    rec = ask(client, MSGS, "pairwise", {})
    assert rec["verdict"] == "error"
    assert client.report()["failures"] == 2


def test_client_error_is_not_retried(fake, tmp_path):
    fake.script = [400]
    client = make_client(fake, tmp_path)
    with pytest.raises(JudgeCallError):
        client.complete(MSGS)
    assert len(fake.requests) == 1


def test_repair_then_unparseable(fake, tmp_path):
    client = make_client(fake, tmp_path)
    fake.script = ["garbage-verdict"]  # first reply garbage, the repair request succeeds
    rec = ask(client, MSGS, "pairwise", {})
    assert rec["verdict"] == "A" and rec["repaired"] is True
    assert "could not be read" in fake.requests[-1]["messages"][-1]["content"]
    fake.always = "garbage-verdict"
    rec = ask(client, [{"role": "user", "content": "other prompt"}], "pairwise", {})
    assert rec["verdict"] == UNPARSEABLE and "after repair" in rec["parse_error"]


def _pairs():
    items = load_eval_items(FIXTURES / "eval_tiny.jsonl")
    return [(it, f"GOOD answer {i}", f"weak answer {i}") for i, it in enumerate(items.values())]


def test_pairwise_cache_rerun_makes_zero_calls(fake, tmp_path):
    pairs = _pairs()
    client = make_client(fake, tmp_path, concurrency=3)
    first = pw.judge_pairs(client, pairs, progress=False)
    assert client.stats.calls == 2 * len(pairs)
    assert all(r["winner"] == "x" and r["consistent"] for r in first)  # x holds the GOOD answer
    again = make_client(fake, tmp_path, concurrency=3)
    second = pw.judge_pairs(again, pairs, progress=False)
    assert again.stats.calls == 0 and again.stats.cache_hits == 2 * len(pairs)
    assert [r["winner"] for r in second] == [r["winner"] for r in first]


def test_killed_run_resumes_without_loss_or_duplicates(fake, tmp_path):
    pairs = _pairs()
    client = make_client(fake, tmp_path)
    pw.judge_pairs(client, pairs, progress=False)
    path = tmp_path / "cache.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    # the run was killed while writing the last row, and before the last two requests were made
    path.write_text("".join(lines[:-3]) + lines[-3][: len(lines[-3]) // 2])
    resumed = make_client(fake, tmp_path)
    assert resumed.cache.repair_note and len(resumed.cache) == len(lines) - 3
    pw.judge_pairs(resumed, pairs, progress=False)
    assert resumed.stats.calls == 3
    rows = [json.loads(x) for x in path.read_text().splitlines()]  # every line is valid JSON again
    keys = [r["key"] for r in rows]
    assert len(keys) == len(set(keys)) == 2 * len(pairs)


def test_logprob_mode_and_threshold(fake, tmp_path):
    pairs = _pairs()[:2]
    client = make_client(fake, tmp_path, verdict_mode="logprobs")
    recs = pw.judge_pairs(client, pairs, progress=False)
    assert all(fake_req.get("max_tokens") == 1 and fake_req.get("top_logprobs") == 5 for fake_req in fake.requests)
    assert [r["order_xy"]["p_a"] for r in recs] == pytest.approx([0.7, 0.7])
    assert all(r["winner"] == "x" for r in recs)
    # a threshold above every p_a turns each order into "B": inconsistent, so a tie
    # pref_x = (0.7 - 0.3) / 2 = 0.2: a tie band above it makes every pair a tie
    assert [r["pref_x"] for r in recs] == pytest.approx([0.2, 0.2])
    assert all(r["winner"] == "tie" for r in pw.rethreshold(recs, 0.25))
