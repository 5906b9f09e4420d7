"""Checklist judge in the main run and its calibration: splits, out-of-fold fitting, records, summaries, choice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from supportbot.jsonl import read_jsonl
from supportbot.judge import cli
from supportbot.judge import compare as compare_judges
from supportbot.judge.calibration import checklist as cc
from supportbot.judge.endpoint.launch import launch_dtype
from supportbot.judge.graders import checklist as checklist_run
from supportbot.judge.graders import checks as checklist
from supportbot.judge.graders import pairwise as pw
from supportbot.judge.graders.verdicts import ERROR
from supportbot.judge.splits import in_split, split_of
from supportbot.paths import DATA_DIR
from supportbot.records import EvalItem


def test_launch_dtype_follows_the_cpu() -> None:
    assert launch_dtype("auto", cuda=False, flags=["avx512_bf16"]) == "bfloat16"
    assert launch_dtype("auto", cuda=False, flags=[]) == "float32"
    assert launch_dtype("auto", cuda=True, flags=[]) is None  # the CUDA server's own choice
    assert launch_dtype("float32", cuda=False, flags=["amx_bf16"]) == "float32"


def test_launch_block_size_reaches_the_vllm_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from supportbot import vllm_server
    from supportbot.judge.endpoint import launch
    from supportbot.judge.endpoint.config import load_config

    seen = {}
    monkeypatch.setattr(vllm_server, "start", lambda vcfg, timeout: seen.setdefault("argv", vllm_server.build_command(vcfg)))
    monkeypatch.setattr(vllm_server, "stop", lambda *a, **k: None)
    cfg = load_config("local-qwen0.5b-checklist")
    with launch._serve(cfg):
        pass
    argv = seen["argv"]
    assert argv[argv.index("--block-size") + 1] == str(cfg.launch.block_size) == "32"


def test_split_is_by_item_and_about_thirty_percent_dev() -> None:
    ids = [r["id"] for r in read_jsonl(DATA_DIR / "eval.jsonl")]
    dev = [i for i in ids if split_of(i) == "dev"]
    assert 0.2 <= len(dev) / len(ids) <= 0.4
    assert all(split_of(i) == split_of(i) for i in ids)  # deterministic
    assert all(in_split(i, "all") for i in ids) and not any(in_split(i, "test") for i in dev)


def test_out_of_fold_margin_and_risk() -> None:
    diff = np.array([0.6] * 10 + [-0.6] * 10 + [0.02] * 10)
    labels = ["A"] * 10 + ["B"] * 10 + ["tie"] * 10
    ppred, margins = cc.cv_margin(diff, labels, cc.MARGINS)
    assert ppred == labels and all(0.02 <= m < 0.6 for m in margins)
    # out-of-fold: a row is never predicted by a model fitted on itself. A row labelled negative at the top of
    # the score range is still predicted positive (its fold's risk model comes from the other rows).
    score = np.linspace(0, 1, 40)
    x = [[v, 0.0, 0.0, 0.0, 0.0] for v in score]
    truth = list(score > 0.52)
    assert ((cc.oof_risk(x, truth) > cc.RISK_CUT) == np.array(truth)).mean() >= 0.95
    truth[-1] = False
    assert cc.oof_risk(x, truth)[-1] > cc.RISK_CUT


def test_pair_agreement_by_kind() -> None:
    rows = [{"source_a": "model:base", "source_b": "model:tuned"}, {"source_a": "control:reference", "source_b": "model:base"},
            {"source_a": "model:tuned", "source_b": "model:base"}]
    out = cc.by_pair_kind(rows, ["A", "A", "tie"], ["tie", "A", "tie"])
    assert out["model_vs_model"] == {"n": 2, "agree": 1, "clear": 1, "clear_agree": 0, "accuracy": 0.5,
                                     "clear_winner_agreement": 0.0}
    assert out["control_vs_model"]["accuracy"] == 1.0


def _item(answerable: bool = True) -> EvalItem:
    return EvalItem(id="q1", messages=[{"role": "user", "content": "Reset?"}], key_facts=["Hold 10 s"],
                    forbidden_claims=["Hold 2 s"], answerable=answerable)


def test_answer_records_and_summary() -> None:
    ok = checklist.AnswerGrade("q1", p={"declines": 0.9}, coverage=0.8, risk=0.2, fired="forbidden:1")
    bad = checklist.AnswerGrade("q1", coverage=0.1, risk=0.9, fired="unsupported")
    broken = checklist.AnswerGrade("q1", errors=["fact:1:stated: JudgeCallError: refused"])
    recs = [checklist_run.answer_record(_item(False), "m", ok, None), checklist_run.answer_record(_item(), "m", bad, None),
            checklist_run.answer_record(_item(), "m", broken, None)]
    assert [r["verdict"] for r in recs] == [checklist_run.CLEAN, checklist_run.HALLUCINATED, ERROR]
    s = checklist_run.summarize_model(recs, seed=0, n_resamples=200)
    assert s["n"] == 3 and s["n_scored"] == 2 and s["n_failed"] == 1
    assert s["hallucination_rate_overall"]["estimate"] == pytest.approx(0.5)
    assert s["fired_by_check_kind"] == {"unsupported": 1}
    assert s["unanswerable"] == {"n": 1, "correct_escalation_rate": 1.0}
    assert s["severe_rate"] is None  # the checklist does not separate minor from severe


def test_risk_model_learns_and_matches_sklearn() -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.random((60, len(checklist.FEATURES)))
    y = list(x[:, 0] + 0.3 * x[:, 1] > 0.7)
    m = checklist.RiskModel.fit(x.tolist(), y)
    xs = (x - x.mean(0)) / x.std(0)
    ref = LogisticRegression(C=1.0).fit(xs, y).predict_proba(xs)[:, 1]
    assert [m.predict(list(r)) for r in x] == pytest.approx(list(ref), abs=1e-6)
    assert np.mean([(m.predict(list(r)) > 0.5) == t for r, t in zip(x, y, strict=True)]) > 0.85
    const = checklist.RiskModel.fit(x[:5].tolist(), [True] * 5)
    assert const.predict(list(x[0])) > 0.99 and const.coef == [0.0] * len(checklist.FEATURES)
    # out-of-fold probabilities never come from a model that saw the row
    prob = cc.oof_risk(x.tolist(), y)
    assert ((prob > 0.5) == np.array(y)).mean() > 0.8


def test_pairwise_summary_without_orders() -> None:
    recs = [{"id": f"q{i}", "winner": w} for i, w in enumerate(["y", "y", "tie", "x"])]
    answers = {f"q{i}": {"answer": "a b c"} for i in range(4)}
    s = pw.summarize(recs, "base", "tuned", answers, answers, n_resamples=200)
    assert s["wins"] == 2 and s["ties"] == 1 and s["losses"] == 1
    assert s["win_rate"]["estimate"] == pytest.approx(0.625)
    assert s["position_consistency"] is None and s["first_position_rate"] is None


def test_default_is_best_agreement_within_budget() -> None:
    rows = [{"judge": "slow-good", "main_run_estimate_s": 2000, "main_run_answers": 200, "mean_kappa": 0.7},
            {"judge": "fast-ok", "main_run_estimate_s": 600, "main_run_answers": 200, "mean_kappa": 0.4},
            {"judge": "fast-bad", "main_run_estimate_s": 300, "main_run_answers": 200, "mean_kappa": 0.1},
            {"judge": "unmeasured", "main_run_estimate_s": None, "main_run_answers": 200, "mean_kappa": 0.9}]
    assert compare_judges.choose(rows) == "fast-ok"
    assert compare_judges.choose(rows[:1]) is None
    # a side-by-side benchmark overrides the estimate
    assert compare_judges.choose([rows[0] | {"bench_200_answers_s": 800}, rows[1]]) == "slow-good"
    assert compare_judges.choose([rows[1] | {"bench_200_answers_s": 1000}, rows[2]]) == "fast-bad"
    items = [_item(), _item(False)]
    assert compare_judges.main_run_calls(items, "checklist") == 2 * (3 + 3)
    assert compare_judges.main_run_calls(items, "holistic") == 8


# ------------------------------------------------------------------ end to end (slow)
@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    fixtures = Path(__file__).parent / "fixtures"
    rows = [json.loads(x) for x in (fixtures / "eval_mini.jsonl").read_text().splitlines()]
    for r in rows:
        r["key_facts"] = ["Restart the printer or router"]
        r["forbidden_claims"] = ["Reinstalling Windows fixes it"]
    (tmp_path / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    good = {r["id"]: r["reference_answer"] for r in rows}
    bad = {"e1": "Printers go offline when the ink is low. Reinstall Windows 11 to fix it.",
           "e2": "Wi-Fi drops are caused by the moon. Reinstall Windows and reboot twice."}
    for name, answers in (("base", bad), ("tuned", good)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps({"id": k, "answer": v, "model": name}) + "\n"
                                                        for k, v in answers.items()))
    rub = tmp_path / "rubric"
    rub.mkdir()
    h = [{"row": "c1", "id": "e1", "model": "base", "answer": bad["e1"], "label": "2", "rationale": "invented"},
         {"row": "c2", "id": "e2", "model": "tuned", "answer": good["e2"], "label": "0", "rationale": "clean"}]
    (rub / "hallucination_v2.jsonl").write_text("".join(json.dumps(r) + "\n" for r in h))
    checks = [{"row": "c1", "id": "e1", "check": "forbidden:1", "label": "asserted"},
              {"row": "c2", "id": "e2", "check": "forbidden:1", "label": "not_asserted"}]
    (rub / "checks.jsonl").write_text("".join(json.dumps(r) + "\n" for r in checks))
    (rub / "pairwise_v2.jsonl").write_text(json.dumps(
        {"id": "e2", "answer_a": good["e2"], "answer_b": bad["e2"], "label": "A", "rationale": "B is absurd"}) + "\n")
    return tmp_path


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_checklist_all_grades_each_answer_once_and_reruns_from_cache(workspace: Path) -> None:
    from supportbot.paths import DEFAULT_BASE_MODEL_DIR
    from supportbot.serve.process import ServerProcess
    from tests.test_judge_e2e import QWEN, _model_dir

    with ServerProcess.supportbot(models={"judge": str(_model_dir(QWEN, DEFAULT_BASE_MODEL_DIR))}, timeout=240,
                                  name="judge-checklist-e2e") as srv:
        cfg = {"name": "e2e-checklist", "model": "judge", "base_url": srv.base_url, "verdict_mode": "logprobs",
               "judge_mode": "checklist", "decoding": {"temperature": 0.0, "max_tokens": 1, "seed": 0, "top_logprobs": 10},
               "concurrency": 1, "timeout_s": 120, "max_retries": 1}
        path = workspace / "checklist.yaml"
        path.write_text(yaml.safe_dump(cfg))
        args = ["all", "--judge", str(path), "--eval", str(workspace / "eval.jsonl"),
                "--baseline", str(workspace / "base.jsonl"), "--candidate", str(workspace / "tuned.jsonl"),
                "--rubric-dir", str(workspace / "rubric"), "--label-split", "all", "--out-dir", str(workspace / "out"),
                "--cache", str(workspace / "cache.jsonl"), "--no-progress", "--resamples", "500"]
        assert cli.main(args) == 0
        summary = json.loads((workspace / "out" / "judge_summary.json").read_text())
        # calibration: 3 distinct labelled answers x 3 checks; main run: 4 answers, 3 of them labelled (cached)
        assert summary["judge_usage"]["calls"] == 3 * 3 + 1 * 3 and summary["judge_mode"] == "checklist"
        calib = json.loads((workspace / "out" / "calibration.json").read_text())
        assert calib["checklist"]["n"] == 2 and calib["hallucination"]["out_of_fold"] is True
        assert calib["hallucination"]["threshold"] is not None and calib["pairwise"]["n"] == 1
        recs = read_jsonl(workspace / "out" / "judgments" / "hallucination-e2e-checklist.jsonl")
        assert len(recs) == 4 and all(r["verdict"] in (checklist_run.CLEAN, checklist_run.HALLUCINATED) for r in recs)
        assert all(set(r["p"]) == {"fact:1:stated", "forbidden:1", "declines"} for r in recs)
        p = summary["pairwise"]
        assert p["wins"] + p["ties"] + p["losses"] == 2 and p["position_consistency"] is None
        assert set(summary["hallucination"]["corrected_overall_rate"]) == {"base", "tuned"}
        assert cli.main(args) == 0
        again = json.loads((workspace / "out" / "judge_summary.json").read_text())
        assert again["judge_usage"]["calls"] == 0 and again["pairwise"] == summary["pairwise"]
