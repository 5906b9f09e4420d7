"""Judge-free reference check: real embedding model (MiniLM, ~1 s to load), CLI end to end on fixtures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from supportbot.judge.reference import check as rc

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "refcheck"
SCRIPT = ROOT / "judge" / "run.py"


@pytest.fixture(scope="module")
def emb() -> rc.Embedder:
    return rc.Embedder()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "reference", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_split_sentences_handles_lists_and_punctuation():
    text = "Sorry about that.\n1. Restart the router. 2. Update the driver!\n- Move closer, e.g. to the hall.\n\n**Done?**"
    assert rc.split_sentences(text) == ["Sorry about that.", "Restart the router.", "Update the driver!",
                                        "Move closer, e.g. to the hall.", "Done?"]


def test_paraphrase_of_fact_beats_unrelated_sentence(emb: rc.Embedder):
    fact = "Restart the printer and the computer."
    sims = emb.similarity([fact], ["Turn the printer off and on again, and reboot your PC too.",
                                   "Chrome stores cookies for each website you visit."])[0]
    assert sims[0] > sims[1] + 0.3
    assert sims[0] >= rc.Thresholds().fact_threshold > sims[1]


def test_forbidden_claim_is_flagged_and_clean_answer_is_not(emb: rc.Embedder):
    ref = rc.EvalRef("x", ["Remove the saved Outlook credentials in Credential Manager."],
                     ["Disable two-factor authentication to stop the prompts."], None)
    th = rc.Thresholds()
    bad = rc.similarities(emb, "Hi! Just disable two-factor authentication and the prompts will stop.", ref)
    good = rc.similarities(emb, "Open Credential Manager and delete the saved Outlook passwords.", ref)
    assert rc.decide(bad, th)["forbidden_hit"] and rc.decide(bad, th)["flagged"]
    assert not rc.decide(good, th)["forbidden_hit"]
    assert rc.decide(good, th)["recall"] == 1.0 and rc.decide(bad, th)["recall"] == 0.0


def test_agreement_on_a_hand_computed_table():
    # tp=3 fn=1 fp=2 tn=4 -> sens .75, spec 2/3, acc .7, pe=(5*4+5*6)/100=.5, kappa=.4
    pred = [1, 1, 1, 0, 1, 1, 0, 0, 0, 0]
    truth = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    a = rc.agreement([bool(p) for p in pred], [bool(t) for t in truth])
    assert a["sensitivity"] == 0.75 and a["specificity"] == 0.6667 and a["accuracy"] == 0.7
    assert a["balanced_accuracy"] == pytest.approx((0.75 + 2 / 3) / 2, abs=1e-4)
    assert a["cohen_kappa"] == pytest.approx(0.4, abs=1e-4)


def test_cli_run_end_to_end(tmp_path: Path):
    out, rows_out = tmp_path / "rc.json", tmp_path / "rows.jsonl"
    res = _cli("--config", str(tmp_path / "absent.yaml"), "--eval", str(FIX / "eval.jsonl"), "run",
               "--answers", str(FIX / "base.jsonl"), str(FIX / "tuned.jsonl"), "--out", str(out), "--rows-out", str(rows_out))
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads(out.read_text())
    base, tuned = summary["models"]["base"], summary["models"]["tuned"]
    assert tuned["key_fact_recall"]["mean"] > base["key_fact_recall"]["mean"]
    assert base["forbidden_hit_rate"]["mean"] > tuned["forbidden_hit_rate"]["mean"]
    lo, hi = tuned["key_fact_recall"]["ci95"]
    assert lo <= tuned["key_fact_recall"]["mean"] <= hi
    assert summary["thresholds"] == {"fact_threshold": 0.6, "forbidden_threshold": 0.6, "min_recall": 0.0,
                                     "forbidden_margin": 0.0}
    rows = [json.loads(line) for line in rows_out.read_text().splitlines()]
    assert len(rows) == 6 and {r["model"] for r in rows} == {"base", "tuned"}
    r1 = next(r for r in rows if r["model"] == "base" and r["id"] == "r1")
    assert r1["forbidden_hit"] and r1["forbidden_claims"][0]["hit_sentence"].startswith("Reinstall Windows")
    t1 = next(r for r in rows if r["model"] == "tuned" and r["id"] == "r1")
    assert not t1["forbidden_hit"] and t1["key_fact_recall"] == 1.0


def test_cli_run_compares_with_judge_verdicts(tmp_path: Path):
    judg = tmp_path / "hallucination-j.jsonl"
    verdicts = {("base", "r1"): "2", ("base", "r2"): "0", ("base", "r3"): "unparseable",
                ("tuned", "r1"): "0", ("tuned", "r2"): "0", ("tuned", "r3"): "not_attempted"}
    judg.write_text("".join(json.dumps({"id": i, "model": m, "verdict": v}) + "\n" for (m, i), v in verdicts.items()))
    out, rows_out = tmp_path / "rc.json", tmp_path / "rows.jsonl"
    res = _cli("--config", str(tmp_path / "absent.yaml"), "--eval", str(FIX / "eval.jsonl"), "run",
               "--answers", str(FIX / "base.jsonl"), str(FIX / "tuned.jsonl"), "--out", str(out),
               "--rows-out", str(rows_out), "--judgments", str(judg))
    assert res.returncode == 0, res.stderr[-2000:]
    vs = json.loads(out.read_text())["vs_llm_judge"]["models"]
    assert vs["base"]["compared"] == 2 and vs["tuned"]["compared"] == 2
    rows = {(r["model"], r["id"]): r for r in map(json.loads, rows_out.read_text().splitlines())}
    assert rows[("base", "r2")]["disagrees_with_judge"] is rows[("base", "r2")]["flagged"]
    assert rows[("base", "r3")]["disagrees_with_judge"] is None and rows[("base", "r3")]["judge_verdict"] == "unparseable"
    assert vs["base"]["disagreements"] == sum(
        bool(rows[("base", i)]["disagrees_with_judge"]) for i in ("r1", "r2"))


def test_cli_fit_end_to_end(tmp_path: Path):
    cfg, out = tmp_path / "rc.yaml", tmp_path / "fit.json"
    res = _cli("--config", str(cfg), "--eval", str(FIX / "eval.jsonl"), "fit", "--rubric", str(FIX / "rubric.jsonl"),
               "--out", str(out), "--folds", "3")
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["not_attempted_excluded"] == 1 and report["hallucinated"] == 3
    assert report["agreement_in_sample"]["balanced_accuracy"] == 1.0
    assert report["agreement_cross_validated"]["n"] == 6
    saved = rc.load_config(cfg)
    assert saved.thresholds == rc.Thresholds(**report["fitted"]) and saved.fitted["rows"] == 7
    assert report["grid_points"] > 1000


def test_fit_without_rubric_names_the_file(tmp_path: Path):
    res = _cli("--eval", str(FIX / "eval.jsonl"), "fit", "--rubric", str(tmp_path / "hallucination.jsonl"), "--no-save")
    assert res.returncode != 0 and "hallucination.jsonl not found" in res.stderr and "RUBRIC.md" in res.stderr


def test_eval_without_any_facts_or_claims_is_an_error(tmp_path: Path):
    with pytest.raises(rc.ReferenceCheckError, match=r"eval_tiny.jsonl: no row has 'key_facts' or 'forbidden_claims'"):
        rc.load_references(ROOT / "tests" / "fixtures" / "eval_tiny.jsonl")
    bad = tmp_path / "eval.jsonl"
    bad.write_text('{"id": "a", "messages": [{"role": "user", "content": "q"}], "key_facts": "not a list"}\n')
    with pytest.raises(rc.ReferenceCheckError, match=r"eval.jsonl:1: field 'key_facts'"):
        rc.load_references(bad)


def test_answer_for_unknown_id_names_file_line_field(tmp_path: Path):
    refs = rc.load_references(FIX / "eval.jsonl")
    bad = tmp_path / "m.jsonl"
    bad.write_text('{"id": "r1", "answer": "ok"}\n{"id": "zz", "answer": "?"}\n')
    with pytest.raises(rc.ReferenceCheckError, match=r"m.jsonl:2: field 'id' 'zz' is not in the eval file"):
        rc.reference_answers(bad, refs)
    bad.write_text('{"id": "r1"}\n')
    with pytest.raises(rc.ReferenceCheckError, match=r"m.jsonl:1: missing field 'answer'"):
        rc.reference_answers(bad, refs)
