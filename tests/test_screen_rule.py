"""The recipe screen's arm file and the rule that picks the default (src/supportbot/screen_rule.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from supportbot.paths import ROOT
from supportbot.screen_rule import ArmResult, Rule, apply_rule, failures, load_screen, own_base

RULE = Rule(text="t", guard_margin=0.05, min_escalation=0.8, max_train_minutes=40)


def arm(name: str, *, trained: bool = True, passages: bool = False, base: str = "0.5b", product: float = 0.3,
        it: float = 0.2, esc: float | None = 0.9, ask: float = 0.0, decline: float = 0.0,
        minutes: float | None = 30.0) -> ArmResult:
    return ArmResult(name=name, base=base, trained=trained, passages=passages, product_recall=product,
                     it_recall=it, escalation=esc, guard_ask=ask, guard_decline=decline,
                     train_minutes=minutes if trained else None)


def test_shipped_screen_file_is_consistent() -> None:
    s = load_screen(ROOT / "eval" / "screen_arms.yaml")
    names = {a.name for a in s.arms}
    # every base model and passage setting that a trained arm uses has its untrained arm: the rule needs it
    for a in s.arms:
        if a.training:
            assert any(b.training is None and b.base == a.base and b.passages == a.passages for b in s.arms), a.name
            # the training run's Axolotl YAML trains the arm's base model
            cfg = yaml.safe_load((ROOT / s.trainings[a.training].config).read_text())
            assert cfg["base_model"] == s.models[a.base], a.name
    for t in s.trainings.values():
        assert (ROOT / t.config).is_file(), t.config
        assert (ROOT / t.data).is_file(), t.data
    assert {"0.5b-base", "0.5b-base-kb", "0.5b-fixed", "0.5b-raft-kb", "135m-base"} <= names
    assert s.rule.guard_margin == 0.05 and s.rule.min_escalation == 0.8 and s.rule.max_train_minutes == 40


def test_bad_screen_file_names_file_and_field(tmp_path: Path) -> None:
    cfg = yaml.safe_load((ROOT / "eval" / "screen_arms.yaml").read_text())
    cfg["arms"].append({"name": "x", "base": "7b"})
    bad = tmp_path / "screen.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ValueError, match=r"(?s)screen\.yaml.*arm x: base '7b' is not in models"):
        load_screen(bad)
    cfg["arms"][-1] = {"name": "y", "base": "0.5b", "passages": "sometimes"}
    bad.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ValueError, match=r"(?s)screen\.yaml.*passages"):
        load_screen(bad)


def test_own_base_matches_base_model_and_passages() -> None:
    rows = [arm("b", trained=False), arm("bk", trained=False, passages=True), arm("t"), arm("tk", passages=True)]
    assert own_base(rows[2], rows).name == "b"
    assert own_base(rows[3], rows).name == "bk"
    assert own_base(rows[0], rows).name == "b"
    assert failures(arm("lonely", base="135m"), rows, RULE) == ["its own base was not screened"]


def test_each_condition_fails_on_its_own() -> None:
    base = arm("b", trained=False, it=0.2, ask=0.10, decline=0.0)
    cases = {
        "IT recall": arm("t", it=0.19),
        "guard ask rate": arm("t", ask=0.16),
        "guard decline rate": arm("t", decline=0.06),
        "escalation": arm("t", esc=0.7),
        "training": arm("t", minutes=41),
    }
    for what, a in cases.items():
        got = failures(a, [base, a], RULE)
        assert len(got) == 1 and got[0].startswith(what), (what, got)
    assert failures(arm("t", ask=0.15, decline=0.05, minutes=40, esc=0.8), [base], RULE) == []
    assert failures(arm("t", esc=None), [base], RULE) == ["escalation n/a < 80%"]


def test_highest_product_recall_among_kept_wins_ties_go_to_cheaper() -> None:
    rows = [arm("b", trained=False, product=0.05, esc=0.0), arm("best-but-forgets", product=0.9, it=0.1),
            arm("slow", product=0.5, minutes=39), arm("fast", product=0.5004, minutes=20), arm("low", product=0.4)]
    winner, failed = apply_rule(rows, RULE)
    assert winner == "fast"
    assert failed["best-but-forgets"] and failed["b"] and not failed["slow"]
    assert apply_rule([arm("b", trained=False, esc=0.0)], RULE)[0] is None


def _answers(path: Path, rows: dict[str, tuple[str, str]]) -> Path:
    from supportbot.jsonl import write_jsonl
    write_jsonl(path, [{"id": i, "model": "m", "answer": a, "finish_reason": f} for i, (a, f) in rows.items()])
    return path


def test_screen_metrics_and_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tools.screen_arms as sa
    from supportbot.jsonl import append_jsonl, read_jsonl
    from supportbot.records import answer_rows

    dev = [{"id": "p", "domain": "product", "reference_answer": "Update the SR-300 firmware to 2.1.4.",
            "key_facts": ["Update the SR-300 firmware to 2.1.4", "Reboot the router"]},
           {"id": "i", "domain": "it", "reference_answer": "I can't confirm that; I'll escalate to tier 2.",
            "key_facts": ["Escalate to tier 2"]}]
    ans = answer_rows(_answers(tmp_path / "a.jsonl", {
        "p": ("Update the SR-300 firmware to version 2.1.4 from the app. Which model do you have?", "stop"),
        "i": ("Restart it. " * 3, "length")}))
    d = sa.dev_metrics(dev, ans)
    assert d["product_recall"] == 0.5 and d["it_recall"] == 0.0
    assert d["escalation_where_ref_escalates"] == 0.0 and d["n_ref_escalates"] == 1
    assert d["max_tokens_rate"] == 0.5 and d["question_rate"] == 0.5
    assert d["it_answer_chars"] == len("Restart it. " * 3)  # the IT item only
    g = sa.guard_metrics(dev, ans)
    assert g["ask_rate"] == 0.5 and g["decline_rate"] == 0.0 and g["it_recall"] == 0.25

    table = tmp_path / "screen.jsonl"
    monkeypatch.setattr(sa, "TABLE_JSONL", table)
    monkeypatch.setattr(sa, "TABLE_MD", tmp_path / "screen.md")
    screen = load_screen(ROOT / "eval" / "screen_arms.yaml")
    for name, trained, prod in (("0.5b-base", False, 0.1), ("0.5b-fixed", True, 0.3)):
        append_jsonl(table, {"arm": name, "base": "0.5b", "training": "0.5b-fixed" if trained else None,
                             "train_data": "data/variants/train_fixed_dedup.jsonl" if trained else None,
                             "passages": False, "cpu": "X",
                             "dev": d | {"product_recall": prod, "escalation_where_ref_escalates": 1.0},
                             "guard": g, "train": {"minutes": 30.0} if trained else None})
    sa.write_table(screen)
    md = (tmp_path / "screen.md").read_text()
    assert "**Verdict:** `0.5b-fixed` among the 2 arms screened so far; not screened yet: 0.5b-base-kb" in md
    assert screen.rule.text in md and "| 0.5b-fixed | 0.5b | 0.5b-fixed (train_fixed_dedup.jsonl) | no | 30.0 |" in md
    assert len(read_jsonl(table)) == 2


def test_rescore_recomputes_rates_from_the_kept_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tools.screen_arms as sa
    from supportbot.jsonl import read_jsonl, write_jsonl

    items = tmp_path / "items.jsonl"
    write_jsonl(items, [{"id": "g", "domain": "it", "reference_answer": "Press Ctrl + Shift + T.",
                         "key_facts": ["Press Ctrl + Shift + T"]}])
    ans = _answers(tmp_path / "ans.jsonl", {"g": ("I'm sorry, I can't help with that.", "stop")})
    table = tmp_path / "screen.jsonl"
    stale = {"ask_rate": 0.0, "decline_rate": 0.0}
    write_jsonl(table, [{"arm": "a", "dev": stale, "guard": stale, "answers": [str(ans), str(ans)]}])
    monkeypatch.setattr(sa, "TABLE_JSONL", table)
    monkeypatch.setattr(sa, "GUARD", items)
    sa.rescore(items)
    row = read_jsonl(table)[0]
    assert row["guard"]["decline_rate"] == 1.0 and row["guard"]["it_recall"] == 0.0
    assert row["dev"]["escalation_where_ref_does_not"] == 1.0 and row["dev"]["n_ref_escalates"] == 0
