"""`judge/run.py` against bad configs, a dead endpoint, a broken cache tail and SIGKILL (issue 13).

The judge is the fake OpenAI-style endpoint of tests/judge_fake.py (a real HTTP server on 127.0.0.1).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from judge_fake import FakeJudge, cli_args, write_workspace

from supportbot.jsonl import read_jsonl, rejected_path
from supportbot.judge import cli
from supportbot.judge.endpoint.cache import cache_key
from supportbot.judge.endpoint.config import CONFIGS_DIR
from supportbot.serve.process import free_port

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fake():
    f = FakeJudge()
    yield f
    f.close()


def _config(tmp: Path, **changes) -> Path:
    cfg = yaml.safe_load((CONFIGS_DIR / "local-qwen0.5b.yaml").read_text()) | changes
    path = tmp / "judge.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize("name", ["../../../etc/hostname", "/etc/hostname", "sub/judge_pairwise", "no_such_prompt"])
def test_prompt_paths_must_stay_under_prompts(tmp_path, fake, capsys, name):
    """Defect 10: a config pointing outside prompts/ was read, then failed with a traceback and rc 1."""
    write_workspace(tmp_path)
    cfg = _config(tmp_path, prompts={"pairwise_logprobs": name})
    args = cli_args(tmp_path, fake.base_url)
    args[args.index("--judge") + 1] = str(cfg)
    assert cli.main(["pairwise", *args]) == 2
    err = capsys.readouterr().err
    assert f"{cfg}: prompts.pairwise_logprobs" in err and "prompts" in err and fake.requests == []


def test_refused_connection_fails_fast_naming_the_url(tmp_path, capsys):
    """Defect 11: 80 calls and 60 retries in 139 s, then only 'judgment(s) failed'; the cause was only in the JSON."""
    write_workspace(tmp_path)
    url = f"http://127.0.0.1:{free_port()}/v1"
    t0 = time.monotonic()
    assert cli.main(["injection", *cli_args(tmp_path, url, "--n", "5")]) == 1
    assert time.monotonic() - t0 < 15
    err = capsys.readouterr().err
    assert "error: the judge endpoint refused the connection" in err and url in err and "Connection refused" in err


def _run(tmp: Path, fake: FakeJudge, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, str(ROOT / "judge" / "run.py"), "pairwise", *cli_args(tmp, fake.base_url, *extra)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_broken_cache_tail_is_set_aside_and_later_runs_work(tmp_path, fake):
    """Defect 3 (judge cache): rc 0 once after a broken last line, then a JsonlError traceback on every run."""
    write_workspace(tmp_path)
    assert _run(tmp_path, fake).wait(timeout=120) == 0
    cache = tmp_path / "cache.jsonl"
    lines = cache.read_text().splitlines()
    cache.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:30] + "\n")
    for attempt in range(2):
        proc = _run(tmp_path, fake)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert (f"{cache}:{len(lines)}: the last line is not a complete JSON row" in err) == (attempt == 0)
    assert len(read_jsonl(cache)) == len(lines) and rejected_path(cache).read_text() == lines[-1][:30] + "\n"


def _key(request: dict) -> str:
    return cache_key(request["messages"], request["model"],
                     {k: request[k] for k in ("temperature", "max_tokens", "seed")})


@pytest.mark.slow
def test_sigkill_mid_run_loses_and_repeats_nothing(tmp_path, fake):
    """SIGKILL `judge/run.py` twice mid-run, rerun: every judgment once, no cached prompt asked again."""
    n = 24
    write_workspace(tmp_path, n=n)
    fake.delay = 0.08
    cache = tmp_path / "cache.jsonl"
    kills = []
    for stop_at in (10, 30):
        proc = _run(tmp_path, fake, "--concurrency", "2")
        while not cache.is_file() or cache.read_bytes().count(b"\n") < stop_at:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills.append((len(fake.requests), {r["key"] for r in read_jsonl(cache, allow_truncated_tail=True)}))
    proc = _run(tmp_path, fake, "--concurrency", "2")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    rows = read_jsonl(cache)
    keys = [r["key"] for r in rows]
    assert len(keys) == len(set(keys)) == 2 * n  # nothing duplicated, nothing lost
    for seen, cached in kills:  # nothing cached before a kill was asked again after it
        assert not cached & {_key(r) for r in fake.requests[seen:]}
    assert len({_key(r) for r in fake.requests}) == 2 * n and len(fake.requests) <= 2 * n + 2 * 2  # + in flight
    records = read_jsonl(tmp_path / "out" / "judgments" / "pairwise-local-qwen0.5b.jsonl")
    assert sorted(r["id"] for r in records) == sorted(f"q{i}" for i in range(n))
    assert all(r["winner"] in {"x", "y", "tie"} for r in records)
    before = len(fake.requests)
    assert _run(tmp_path, fake).wait(timeout=120) == 0 and len(fake.requests) == before  # fully cached: no call
