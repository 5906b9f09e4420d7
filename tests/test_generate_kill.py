"""eval/generate.py killed with SIGKILL against the real service, then rerun; and one writer per answers file.

Fault N (issue 24): two runs on the same ``--out`` at once wrote every row twice. Now the run holds an
exclusive lock on the file and a second writer stops at once with an error naming it.
Issue 24, deliver 3: ``kill -9`` of a run at the default concurrency (8 in flight, some decoding, some
queued behind the batch: fault A killed the service's worker there), then a rerun: no row lost, none
twice, and the service still answers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from supportbot.jsonl import FileBusyError, exclusive_writer, read_jsonl

ROOT = Path(__file__).resolve().parents[1]
GENERATE = [sys.executable, str(ROOT / "eval" / "generate.py")]
N_ITEMS = 24


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src"), "SUPPORTBOT_API_KEY": ""}


def test_fault_N_a_second_writer_is_refused_naming_the_file(tmp_path):
    """Fault N: while one process holds an answers file, another gets FileBusyError at once."""
    out = tmp_path / "answers.jsonl"
    with exclusive_writer(out):
        child = subprocess.run([sys.executable, "-c", "import sys\nfrom supportbot.jsonl import exclusive_writer\n"
                                f"with exclusive_writer({str(out)!r}): pass"], capture_output=True, text=True,
                               env=_env(), timeout=60)
        assert child.returncode != 0 and "FileBusyError" in child.stderr and str(out) in child.stderr
        with pytest.raises(FileBusyError, match="another process is writing"):
            with exclusive_writer(out):
                pass
    assert not out.exists()  # nothing was written: the lock left no empty file behind
    with exclusive_writer(out):  # free again once released
        out.write_text("")


def test_fault_N_second_generate_run_on_the_same_out_is_rc_2(tmp_path):
    """Fault N through the CLI: generate.py on a file another run holds stops with rc 2 and names it,
    before it asks the endpoint anything (nothing listens at the URL it is given)."""
    out = tmp_path / "answers.jsonl"
    cmd = [*GENERATE, "--base-url", "http://127.0.0.1:9/v1", "--model", "base", "--out", str(out), "--limit", "2",
           "--no-progress"]
    with exclusive_writer(out):
        res = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=120)
    assert res.returncode == 2, res.stderr[-2000:]
    assert "Traceback" not in res.stderr and f"error: {out}: another process is writing" in res.stderr


def _rows(out: Path) -> list[dict]:
    return read_jsonl(out, allow_truncated_tail=True) if out.exists() else []


@pytest.mark.slow
def test_kill_9_at_default_concurrency_then_rerun_loses_and_repeats_nothing(tmp_path, base_model_dir):
    """Deliver 3: SIGKILL mid-run (default --concurrency), the service answers, a rerun completes:
    every id once, none lost."""
    from supportbot.records import load_eval
    from supportbot.serve.process import ServerProcess

    out = tmp_path / "answers.jsonl"
    with ServerProcess.supportbot(models={"base": base_model_dir}, name="test-generate-kill",
                                  extra_env={"SUPPORTBOT_API_KEY": ""}) as srv:
        cmd = [*GENERATE, "--base-url", srv.base_url, "--model", "base", "--out", str(out),
               "--limit", str(N_ITEMS), "--max-tokens", "24", "--no-progress"]
        proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 600
        while len(_rows(out)) < 6:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no answers after 600 s"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()
        killed_at = len(_rows(out))
        assert killed_at < N_ITEMS, "the run finished before the kill: nothing was tested"
        r = httpx.post(srv.base_url + "/chat/completions", timeout=120,
                       json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4})
        assert r.status_code == 200, r.text  # before the fix of fault A the worker was dead here
        rerun = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=900)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        assert f"{killed_at} already there, {N_ITEMS - killed_at} new, 0 failed" in rerun.stderr, rerun.stderr[-2000:]
        health = httpx.get(srv.url + "/healthz", timeout=30)
        assert health.status_code == 200 and health.json()["models"]["base"]["alive"] is True
    ids = Counter(row["id"] for row in read_jsonl(out))
    want = [item.id for item in load_eval(ROOT / "data" / "eval.jsonl")[:N_ITEMS]]
    assert sorted(ids) == sorted(want) and set(ids.values()) == {1}
