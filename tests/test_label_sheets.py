"""Control answers and the label-sheet tooling of label set v2 (supportbot.judge.labelling; `judge/run.py label-sheets`)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from supportbot.judge.labelling import controls
from supportbot.judge.labelling.label_sheets import validate

ROOT = Path(__file__).resolve().parents[1]
ITEM = {"id": "x", "reference_answer": "Hold the reset button for 10 seconds. Then:\n1. Wait 2 minutes.\n2. Log in again.",
        "key_facts": ["Hold the reset button for 10 seconds", "Wait 2 minutes"],
        "forbidden_claims": ["Holding reset for 3 seconds wipes the router"]}


def test_controls_change_exactly_what_they_say() -> None:
    rng = random.Random(0)
    assert controls.make(ITEM, "reference", rng).answer == ITEM["reference_answer"]
    spliced = controls.make(ITEM, "spliced_forbidden", rng)
    assert "Holding reset for 3 seconds wipes the router." in spliced.answer
    assert spliced.answer.replace(" Holding reset for 3 seconds wipes the router.", "") == ITEM["reference_answer"]
    for seed in range(10):
        altered = controls.alter_fact(ITEM, random.Random(seed))
        assert altered.answer != ITEM["reference_answer"]
        assert "\n1. Wait" in altered.answer and "\n2. Log" in altered.answer  # list markers are never "facts"
    assert "Wait" in controls.make(ITEM, "escalation", rng).answer or "escalate" in controls.make(ITEM, "escalation", rng).answer
    assert controls.alter_fact({"id": "y", "reference_answer": "No numbers.", "key_facts": ["No numbers"]}, rng) is None
    with pytest.raises(ValueError, match="unknown control recipe"):
        controls.make(ITEM, "nonsense", rng)


def test_annotation_rows_are_validated_with_file_and_field() -> None:
    good = {"row": "c001", "key_facts": ["stated"], "forbidden": ["not_asserted"], "hallucination": "0", "rationale": "ok"}
    validate(good, "answers", "f:1")
    for field, bad in (("hallucination", "3"), ("key_facts", ["maybe"]), ("rationale", " ")):
        with pytest.raises(SystemExit, match=f"f:1: field '{field}'"):
            validate(good | {field: bad}, "answers", "f:1")
    with pytest.raises(SystemExit, match="field 'label'"):
        validate({"row": "p1", "label": "C", "rationale": "x"}, "pairs", "g:2")


def test_agreement_counts_disagreements(tmp_path: Path) -> None:
    items = [json.loads(x) for x in (ROOT / "data/eval.jsonl").read_text().splitlines()]
    it = next(i for i in items if i["answerable"])
    (tmp_path / "answers_key_controls.jsonl").write_text(
        "".join(json.dumps({"row": f"c{i}", "item_id": it["id"], "source": "control:reference", "answer": "x"}) + "\n" for i in range(4)))
    n_f, n_c = len(it["key_facts"]), len(it["forbidden_claims"])

    def ann(h: str) -> dict:
        return {"key_facts": ["stated"] * n_f, "forbidden": ["not_asserted"] * n_c, "hallucination": h, "rationale": "r"}

    for who, labels in (("r1", ["0", "0", "2", "2"]), ("r2", ["0", "0", "2", "not_attempted"])):
        d = tmp_path / "annotations" / who
        d.mkdir(parents=True)
        (d / "answers-controls_1.jsonl").write_text("".join(json.dumps({"row": f"c{i}"} | ann(h)) + "\n" for i, h in enumerate(labels)))
    proc = subprocess.run([sys.executable, "judge/run.py", "label-sheets", "agreement", "--out-dir", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    res = json.loads((tmp_path / "agreement.json").read_text())
    assert res["hallucination"]["n"] == 4 and res["hallucination"]["agreement"] == 0.75
    assert res["disagreements"]["answers"] == ["c3"]
    assert res["checks"]["kappa"] is None or res["checks"]["agreement"] == 1.0
