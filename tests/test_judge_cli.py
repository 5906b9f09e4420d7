"""`python judge/run.py` end to end against the local fault-injecting endpoint (fast; no model)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from judge_fake import FakeJudge, cli_args, write_jsonl_rows, write_workspace

from supportbot.judge import cli
from supportbot.judge.inputs import kb_excerpt, load_hallucination_rubric

ROOT = Path(__file__).resolve().parents[1]
_write = write_jsonl_rows


@pytest.fixture
def workspace(tmp_path):
    write_workspace(tmp_path)
    fake = FakeJudge()
    yield tmp_path, fake
    fake.close()


def _args(tmp: Path, fake: FakeJudge, *extra: str) -> list[str]:
    return cli_args(tmp, fake.base_url, *extra)


def test_all_then_rerun_makes_zero_calls(workspace):
    tmp, fake = workspace
    assert cli.main(["all", *_args(tmp, fake)]) == 0
    summary = json.loads((tmp / "out" / "judge_summary.json").read_text())
    pair = summary["pairwise"]
    assert (pair["wins"], pair["ties"], pair["losses"]) == (4, 1, 1)  # q5: no GOOD anywhere, B both times: tie
    assert pair["win_rate"]["estimate"] == pytest.approx(4.5 / 6)
    assert pair["win_rate"]["n_resamples"] >= 2000
    assert pair["position_consistency"] == pytest.approx(5 / 6)
    assert pair["lc_win_rate"]["estimate"] is not None
    hal = summary["hallucination"]
    assert hal["models"]["tuned"]["hallucination_rate_overall"]["estimate"] == pytest.approx(2 / 6)
    assert hal["models"]["base"]["hallucination_rate_overall"]["estimate"] == pytest.approx(5 / 6)
    assert hal["difference_base_minus_tuned"]["overall"]["estimate"] == pytest.approx(3 / 6)
    assert hal["corrected_overall_rate"]["tuned"]["sensitivity"] == pytest.approx(1.0)
    calib = json.loads((tmp / "out" / "calibration.json").read_text())
    # q2 has no GOOD: the fake says B in both orders, an order flip, so a tie (as labelled)
    assert calib["pairwise"]["accuracy"] == 1.0 and calib["pairwise"]["kappa"] == pytest.approx(1.0)
    assert calib["pairwise"]["decisive_only"] == {"n": 2, "coverage": pytest.approx(2 / 3), "accuracy": 1.0}
    assert calib["pairwise"]["first_position_rate"] == pytest.approx(2 / 6)
    # the fake grades q3 (human 1) as 2 and q4 (human not_attempted) as 0: binary view all right
    assert calib["hallucination"]["four_class"]["accuracy"] == pytest.approx(3 / 5)
    assert calib["hallucination"]["binary"]["specificity"] == 1.0 == calib["hallucination"]["binary"]["sensitivity"]
    assert summary["status"] == "calibrated"
    calls = summary["judge_usage"]["calls"]
    assert calls == 2 * 6 + 12 + 5 + 2 * 3
    assert len((tmp / "out" / "judgments" / "pairwise-local-qwen0.5b.jsonl").read_text().splitlines()) == 6
    n_requests = len(fake.requests)
    assert cli.main(["all", *_args(tmp, fake)]) == 0
    again = json.loads((tmp / "out" / "judge_summary.json").read_text())
    assert again["judge_usage"]["calls"] == 0 and len(fake.requests) == n_requests
    assert again["pairwise"]["win_rate"] == pair["win_rate"]


def test_subset_injection_and_uncalibrated_flag(workspace, capsys):
    tmp, fake = workspace
    assert cli.main(["pairwise", *_args(tmp, fake, "--ids", "q0,q4")]) == 0
    out = json.loads((tmp / "out" / "judgments" / "pairwise-local-qwen0.5b.summary.json").read_text())
    assert out["n_pairs"] == 2 and (out["wins"], out["losses"]) == (1, 1)
    n_before = len(fake.requests)
    assert cli.main(["injection", *_args(tmp, fake, "--n", "3")]) == 0
    inj = json.loads((tmp / "out" / "judgments" / "injection-local-qwen0.5b.summary.json").read_text())
    kinds = len(inj["attacks"])
    assert kinds >= 10 and inj["n_pairs"] == 3 and inj["n_judgments"] == 6 * kinds and inj["pair_flip_rate"] == 0.0
    assert inj["order_flip_rate"] == 0.0 and inj["pair_success_rate"] == 0.0
    # sanitized by default: every attacked prompt is the clean prompt again, so the judge is not even asked
    assert inj["n_prompts_same_as_clean"] == 6 * kinds and all(a["pair_flip_rate"] == 0.0 for a in inj["by_attack"].values())
    assert len(fake.requests) - n_before <= 2 * 3  # only clean pairs not judged before, never an attacked prompt
    assert cli.main(["injection", *_args(tmp, fake, "--n", "3", "--no-sanitize", "--attacks", "note-to-grader")]) == 0
    injected = [r for r in fake.requests if "Ignore the rubric" in r["messages"][-1]["content"]]
    assert len(injected) == 6
    assert cli.main(["injection", *_args(tmp, fake, "--attacks", "no-such-kind")]) == 2
    (tmp / "rubric" / "pairwise.jsonl").unlink()
    assert cli.main(["all", *_args(tmp, fake, "--limit", "3")]) == 0
    summary = json.loads((tmp / "out" / "judge_summary.json").read_text())
    assert summary["status"] == "uncalibrated" and summary["pairwise"]["n_pairs"] == 3
    assert "UNCALIBRATED" in capsys.readouterr().err


def test_bad_input_names_file_line_field(workspace, capsys):
    tmp, fake = workspace
    with (tmp / "eval.jsonl").open("a") as fh:
        fh.write(json.dumps({"id": "q9", "messages": []}) + "\n")
    assert cli.main(["pairwise", *_args(tmp, fake)]) == 2
    err = capsys.readouterr().err
    assert "eval.jsonl:7: field 'messages'" in err
    _write(tmp / "rubric" / "hallucination.jsonl", [{"id": "q0", "model": "m", "answer": "a", "label": 3, "rationale": "r"}])
    with pytest.raises(ValueError, match=r"hallucination.jsonl:1: field 'label'"):
        load_hallucination_rubric(tmp / "rubric" / "hallucination.jsonl")


def test_kb_excerpt_picks_relevant_paragraphs_within_budget(tmp_path):
    (tmp_path / "router.md").write_text("# Router\n\nThe default address is 192.168.8.1 for the AX100 router.\n\n"
                                        "Warranty lasts two years.\n\nThe LED blinks amber during firmware updates.\n")
    text = kb_excerpt(["router.md"], "What is the default address of the AX100?", 12, tmp_path)
    assert text.startswith("[router] The default address is 192.168.8.1") and len(text.split()) <= 14
    with pytest.raises(ValueError, match="not found"):
        kb_excerpt(["missing"], "q", 50, tmp_path)
    (tmp_path / "leds.md").write_text("# LEDs\n\n| LED | Meaning |\n|---|---|\n| Solid white | Starting up |\n"
                                      "| Pulsing amber | PPPoE login failed |\n| Solid red | Hardware fault |\n")
    assert kb_excerpt(["leds"], "the LED is pulsing amber", 9, tmp_path) == "[leds] | Pulsing amber | PPPoE login failed |"


def test_help_runs_as_a_script():
    res = subprocess.run([sys.executable, str(ROOT / "judge" / "run.py"), "--help"], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0 and "pairwise" in res.stdout and "injection" in res.stdout


def test_rubric_sheet_sample_and_finalize(workspace):
    from supportbot.judge.inputs import load_pairwise_rubric
    from supportbot.judge.labelling import rubric_sheet as mrs

    tmp, _ = workspace
    sheets, rubric = tmp / "sheets", tmp / "labels"
    rubric.mkdir()
    args = ["sample", "--eval", str(tmp / "eval.jsonl"), "--models", str(tmp / "base.jsonl"), str(tmp / "tuned.jsonl"),
            "--n-hallucination", "8", "--n-pairs", "4", "--out", str(sheets)]
    assert mrs.main(args) == 0
    first = (sheets / "pairwise_sheet.jsonl").read_text()
    assert mrs.main(args) == 0 and (sheets / "pairwise_sheet.jsonl").read_text() == first  # seeded
    hal = [json.loads(x) for x in (sheets / "hallucination_sheet.jsonl").read_text().splitlines()]
    assert len(hal) == 8 and {r["model"] for r in hal} == {"base", "tuned"}
    assert hal[0]["id"] == "q4"  # the unanswerable question comes first
    assert len({(r["id"], r["model"]) for r in hal}) == 8
    pairs = [json.loads(x) for x in first.splitlines()]
    assert len(pairs) == 4 and all("model_a" not in r for r in pairs)  # blind
    assert mrs.main(["finalize", "--sheets", str(sheets), "--rubric-dir", str(rubric)]) == 2  # unlabelled
    for name, label in (("hallucination_sheet.jsonl", 0), ("pairwise_sheet.jsonl", "tie")):
        rows = [json.loads(x) for x in (sheets / name).read_text().splitlines()]
        _write(sheets / name, [{**r, "label": label, "rationale": "checked"} for r in rows])
    assert mrs.main(["finalize", "--sheets", str(sheets), "--rubric-dir", str(rubric)]) == 0
    labelled = load_pairwise_rubric(rubric / "pairwise.jsonl")
    assert len(labelled) == 4 and {r.model_a for r in labelled} <= {"base", "tuned"}
    assert len(load_hallucination_rubric(rubric / "hallucination.jsonl")) == 8
    assert mrs.main(["finalize", "--sheets", str(sheets), "--rubric-dir", str(rubric)]) == 2  # never overwrites


def test_unparseable_verdicts_are_counted_not_dropped(workspace, capsys):
    tmp, fake = workspace
    fake.always = "garbage-verdict"
    assert cli.main(["hallucination", *_args(tmp, fake)]) == 0
    text = (tmp / "out" / "judgments" / "hallucination-local-qwen0.5b.summary.json").read_text()
    assert "NaN" not in text  # rates over zero answers are null, the file is standard JSON
    out = json.loads(text)
    for m in ("base", "tuned"):
        assert out["models"][m]["n"] == 6 and out["models"][m]["n_unparseable"] == 6
        assert out["models"][m]["hallucination_rate_overall"]["estimate"] is None
    assert out["judge_usage"]["calls"] == 24  # every answer: one request and one repair request
    assert "12 verdict(s) unparseable" in capsys.readouterr().err
    recs = [json.loads(x) for x in (tmp / "out" / "judgments" / "hallucination-local-qwen0.5b.jsonl").read_text().splitlines()]
    assert len(recs) == 12 and all(r["verdict"] == "unparseable" and r["raw"] for r in recs)


def test_shipped_configs_load():
    from supportbot.judge.endpoint.config import CONFIGS_DIR, load_config

    names = sorted(p.stem for p in CONFIGS_DIR.glob("*.yaml") if p.stem != "reference_check")
    assert {"local-qwen0.5b", "vllm-qwen7b", "openai-gpt4o-mini"} <= set(names)
    cfgs = {n: load_config(n) for n in names}
    assert cfgs["local-qwen0.5b"].launch is not None and cfgs["local-qwen0.5b"].base_url is None
    assert cfgs["openai-gpt4o-mini"].api_key_env == "OPENAI_API_KEY" and cfgs["openai-gpt4o-mini"].price_per_1m_input > 0
    assert all(c.decoding.temperature == 0 for c in cfgs.values())
