"""Typed judge labels, the failure counts, the config's mode properties and the in-memory threshold hand-over."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supportbot.jsonl import read_jsonl, write_jsonl
from supportbot.judge import evaluate as runner
from supportbot.judge.endpoint.client import JudgeClient
from supportbot.judge.endpoint.config import load_config
from supportbot.judge.graders import parse, verdicts
from supportbot.judge.labels import ERROR, UNPARSEABLE, Failure, failure_counts
from supportbot.paths import DATA_DIR


def test_failures_serialise_as_the_old_strings(tmp_path: Path) -> None:
    rec = {"verdict": UNPARSEABLE, "winner": ERROR}
    assert json.dumps(rec) == '{"verdict": "unparseable", "winner": "error"}'
    write_jsonl(tmp_path / "r.jsonl", [rec])
    assert read_jsonl(tmp_path / "r.jsonl") == [{"verdict": "unparseable", "winner": "error"}]
    assert UNPARSEABLE == "unparseable" and ERROR == "error" and set(Failure) == {"unparseable", "error"}
    assert parse.UNPARSEABLE is UNPARSEABLE and verdicts.ERROR is ERROR  # the old import places still work


def test_failure_counts() -> None:
    recs = [{"verdict": "A"}, {"verdict": "unparseable"}, {"verdict": ERROR}, {"verdict": ERROR}]
    assert failure_counts(recs) == {"n_unparseable": 1, "n_failed": 2}
    assert list(failure_counts([])) == ["n_unparseable", "n_failed"]  # the key order the summaries had
    assert failure_counts([{"winner": "x"}, {"winner": UNPARSEABLE}], "winner") == {"n_unparseable": 1, "n_failed": 0}


def test_config_modes() -> None:
    ck, js = load_config("local-qwen1.5b-checklist"), load_config("openai-gpt4o-mini")
    assert ck.uses_logprobs and ck.judge_mode == "checklist"
    assert not js.uses_logprobs and js.judge_mode != "checklist"
    assert load_config("openai-gpt4o-mini", verdict_mode="logprobs").uses_logprobs


def _run(tmp_path: Path) -> runner.Run:
    cfg = load_config("local-qwen0.5b", base_url="http://127.0.0.1:9/v1")
    client = JudgeClient(cfg, cache_path=tmp_path / "cache.jsonl")
    return runner.Run(client=client, eval_path=DATA_DIR / "eval.jsonl", baseline="base", candidate="tuned",
                      out_dir=tmp_path, progress=False)


def test_threshold_from_memory_or_from_the_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = _run(tmp_path)
    assert run.threshold("hallucination") == 0.5 and "no fitted hallucination threshold" in capsys.readouterr().err
    runner.write_json(run.calibration_path, {"judge": run.judge, "hallucination": {"threshold": 0.3}})
    assert run.threshold("hallucination") == 0.3  # standalone commands: from the calibration file
    assert run.threshold("hallucination", {"judge": run.judge, "hallucination": {"threshold": 0.7}}) == 0.7
    runner.write_json(run.calibration_path, {"judge": "another-judge", "hallucination": {"threshold": 0.3}})
    assert run.threshold("hallucination") == 0.5  # another judge's file is ignored


def test_do_all_hands_the_calibration_over_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = _run(tmp_path)
    calib = {"judge": run.judge, "hallucination": None, "pairwise": None,
             "calibrated": {"hallucination": False, "pairwise": False}}
    seen: dict[str, object] = {}

    def pairwise(r: runner.Run, c: dict | None = None) -> dict:
        seen["pairwise"] = c
        return {}

    def hallucination(r: runner.Run, c: dict | None = None) -> tuple[dict, list]:
        seen["hallucination"] = c
        return {}, []

    monkeypatch.setattr(runner, "do_calibrate", lambda r: calib)
    monkeypatch.setattr(runner, "do_pairwise", pairwise)
    monkeypatch.setattr(runner, "do_hallucination", hallucination)
    monkeypatch.setattr(runner, "corrected_rates", lambda *a, **k: {})
    monkeypatch.setattr(runner.Run, "calibration", lambda self, c=None: pytest.fail("read back from disk"))
    summary, out = runner.do_all(run)
    assert seen == {"pairwise": calib, "hallucination": calib} and out is calib
    assert json.loads(run.calibration_path.read_text()) == calib  # still written for the standalone commands
    assert summary["status"] == "uncalibrated"
