"""End to end: `judge/run.py` against the project's own server with a real local judge model (slow).

The logprob test uses the CPU default judge (Qwen2.5-Coder-0.5B-Instruct, models/qwen2.5-coder-0.5b)
when it has been bootstrapped, else the base model folder stands in. The JSON-verdict test uses the
base model (SmolLM2-135M): free-text JSON from the 0.5B judge decoded at ~1 token/s on the shared
2-core CI machine (60 tokens took 26-79 s per call), too slow for a CI test. These tests check that
the pipeline runs, records every verdict (parsed or counted as unparseable) and that a rerun makes
no calls; they do not check that the verdicts are good (that is what `calibrate` measures).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from supportbot.judge import cli
from supportbot.paths import DEFAULT_BASE_MODEL_DIR, MODELS_DIR
from supportbot.serve.process import ServerProcess

FIXTURES = Path(__file__).parent / "fixtures"
QWEN = MODELS_DIR / "qwen2.5-coder-0.5b"
PAIR_VERDICTS = {"x", "y", "tie", "unparseable"}
HAL_VERDICTS = {"0", "1", "2", "not_attempted", "unparseable"}


def _model_dir(*candidates: Path) -> Path:
    for d in candidates:
        if any(d.glob("*.safetensors")):
            return d
    pytest.fail(f"no judge model folder among {candidates}: run `python scripts/bootstrap_judge.py` "
                "and `python scripts/bootstrap_model.py`")


@pytest.fixture
def qwen_server():
    with ServerProcess.supportbot(models={"judge": str(_model_dir(QWEN, DEFAULT_BASE_MODEL_DIR))}, timeout=240,
                                  name="judge-e2e") as srv:
        yield srv


@pytest.fixture
def small_server():
    with ServerProcess.supportbot(models={"judge": str(_model_dir(DEFAULT_BASE_MODEL_DIR))}, timeout=240,
                                  name="judge-e2e-small") as srv:
        yield srv


@pytest.fixture
def workspace(tmp_path):
    rows = [json.loads(x) for x in (FIXTURES / "eval_mini.jsonl").read_text().splitlines()]
    (tmp_path / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    good = {r["id"]: r["reference_answer"] for r in rows}
    bad = {"e1": "Printers go offline when the ink is low. Reinstall Windows 11 to fix it.",
           "e2": "Wi-Fi drops are caused by the moon. Delete System32 and reboot twice."}
    for name, answers in (("base", bad), ("tuned", good)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps({"id": k, "answer": v, "model": name}) + "\n"
                                                        for k, v in answers.items()))
    rub = tmp_path / "rubric"
    rub.mkdir()
    (rub / "hallucination.jsonl").write_text(json.dumps(
        {"id": "e1", "model": "base", "answer": bad["e1"], "label": 2, "rationale": "ink/reinstall invented"}) + "\n")
    (rub / "pairwise.jsonl").write_text(json.dumps(
        {"id": "e2", "answer_a": good["e2"], "answer_b": bad["e2"], "label": "A", "rationale": "B is absurd"}) + "\n")
    return tmp_path


def _config(tmp: Path, srv: ServerProcess, mode: str, max_tokens: int) -> Path:
    cfg = {"name": f"e2e-{mode}", "model": "judge", "base_url": srv.base_url, "verdict_mode": mode,
           "decoding": {"temperature": 0.0, "max_tokens": max_tokens, "seed": 0, "top_logprobs": 5},
           "concurrency": 1, "timeout_s": 120, "max_retries": 1,
           "budget": {"answer_words": 60, "reference_words": 40, "kb_words": 40}}
    path = tmp / f"{mode}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _args(tmp: Path, cfg: Path, *extra: str) -> list[str]:
    return ["--judge", str(cfg), "--eval", str(tmp / "eval.jsonl"), "--baseline", str(tmp / "base.jsonl"),
            "--candidate", str(tmp / "tuned.jsonl"), "--rubric-dir", str(tmp / "rubric"), "--out-dir", str(tmp / "out"),
            "--cache", str(tmp / "cache.jsonl"), "--no-progress", "--resamples", "2000", *extra]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_all_logprob_judge_records_every_verdict_and_reruns_from_cache(qwen_server, workspace):
    cfg = _config(workspace, qwen_server, "logprobs", 1)
    rc = cli.main(["all", *_args(workspace, cfg, "--limit", "1")])
    assert rc == 0  # no failed calls (unparseable verdicts would be recorded and counted, not an error)
    summary = json.loads((workspace / "out" / "judge_summary.json").read_text())
    usage = summary["judge_usage"]
    assert usage["calls"] == 2 + 2 + 2 and usage["failures"] == 0  # calibration 1 + 2, pairwise 2, hallucination 2
    assert usage["prompt_tokens"] > 0 and usage["wall_s"] > 0
    pairs = [json.loads(x) for x in (workspace / "out" / "judgments" / "pairwise-e2e-logprobs.jsonl").read_text().splitlines()]
    assert len(pairs) == 1 and pairs[0]["winner"] in PAIR_VERDICTS
    assert all(0.0 <= pairs[0][f"order_{o}"].get("p_a", 0.5) <= 1.0 for o in ("xy", "yx"))
    hal = [json.loads(x) for x in (workspace / "out" / "judgments" / "hallucination-e2e-logprobs.jsonl").read_text().splitlines()]
    assert sorted(r["model"] for r in hal) == ["base", "tuned"] and all(r["verdict"] in HAL_VERDICTS for r in hal)
    p = summary["pairwise"]
    assert p["wins"] + p["ties"] + p["losses"] + p["n_unparseable"] == 1
    assert summary["status"] in ("calibrated", "uncalibrated")
    assert json.loads((workspace / "out" / "calibration.json").read_text())["pairwise"]["n_rubric"] == 1
    assert cli.main(["all", *_args(workspace, cfg, "--limit", "1")]) == rc
    again = json.loads((workspace / "out" / "judge_summary.json").read_text())
    assert again["judge_usage"]["calls"] == 0 and again["pairwise"] == {**summary["pairwise"]}


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_json_judge_parses_or_counts_unparseable(small_server, workspace):
    # one JSON verdict (plus at most one repair request): calibrate on a one-row hallucination rubric
    (workspace / "rubric" / "pairwise.jsonl").unlink()
    cfg = _config(workspace, small_server, "json", 32)
    assert cli.main(["calibrate", *_args(workspace, cfg)]) == 0
    calib = json.loads((workspace / "out" / "calibration.json").read_text())
    recs = [json.loads(x) for x in
            (workspace / "out" / "judgments" / "calibration-hallucination-e2e-json.jsonl").read_text().splitlines()]
    assert len(recs) == 1 and recs[0]["verdict"] in HAL_VERDICTS and recs[0]["raw"] is not None
    unparseable = recs[0]["verdict"] == "unparseable"
    h = calib["hallucination"]
    assert h["n_unparseable"] == int(unparseable) and h["n_scored"] == 1 - int(unparseable)
    assert calib["pairwise"] is None and calib["calibrated"] == {"hallucination": False, "pairwise": False}
    usage = json.loads((workspace / "out" / "judgments" / "calibrate-e2e-json.summary.json").read_text())["judge_usage"]
    assert usage["calls"] == 1 + int(bool(recs[0].get("repaired")))
