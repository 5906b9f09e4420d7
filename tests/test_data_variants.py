"""Training-set variants (fixed answers, direct-answer openers, opener cap) and the dev key facts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supportbot import behaviour as bh
from supportbot.data.authoring import load_authoring
from supportbot.data.build import build, build_train_variant
from supportbot.data.dev_facts import dev_items, load_dev_facts
from supportbot.data.issues import DataError
from supportbot.data.variants import cap_openers, most_different
from supportbot.jsonl import read_jsonl
from supportbot.paths import DATA_DIR, load_prompt

FIX = Path(__file__).parent / "fixtures" / "authoring"
AUTHORING, KB, VARIANTS = DATA_DIR / "authoring", DATA_DIR / "kb", DATA_DIR / "variants"


def _variant(out: Path, **kw) -> list[dict]:
    return build_train_variant(FIX / "yaml", FIX / "kb", out, system_prompt="S", dev_fraction=0.3, **kw)


def test_variant_build_is_deterministic_and_keeps_dev_out(tmp_path: Path) -> None:
    a = _variant(tmp_path / "a.jsonl", variant="fixed", max_openers=2)
    _variant(tmp_path / "b.jsonl", variant="fixed", max_openers=2)
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert (tmp_path / "a.manifest.json").read_text() == (tmp_path / "b.manifest.json").read_text()
    splits = build(FIX / "yaml", FIX / "kb", tmp_path / "default", system_prompt="S", dev_fraction=0.3, eval_count=None)
    dev = {r["id"].split("#")[0] for r in splits["dev"]}
    assert dev and not dev & {r["id"].split("#")[0] for r in a}


def test_fixed_variant_adds_direct_openers_and_revised_answers(tmp_path: Path) -> None:
    rows = {r["id"]: r for r in _variant(tmp_path / "f.jsonl", variant="fixed")}
    ids = {i for i in rows if i.startswith("it-forgot-password")}
    if not ids:
        pytest.skip("fixture scenario landed in dev")  # pragma: no cover - the seeded split keeps it in train
    direct = rows["it-forgot-password#d1.1"]["messages"]
    assert [m["role"] for m in direct] == ["system", "user", "assistant"]
    assert direct[1]["content"] == "Local Windows account, password gone from my memory"
    assert direct[2]["content"] == "Use your security questions on the sign-in screen."  # the revised answer
    assert rows["it-forgot-password#1"]["messages"][-1]["content"] == direct[2]["content"]
    assert rows["it-forgot-password#d0.0"]["messages"][2]["content"] == "Reset it at account.live.com/password/reset."
    today = {r["id"]: r for r in _variant(tmp_path / "t.jsonl")}
    assert not any("#d" in i for i in today)
    assert today["it-forgot-password#1"]["messages"][-1]["content"].endswith("or escalate to IT.")


def test_cap_keeps_the_most_different_paraphrases() -> None:
    texts = ["my router light is red", "my router light is red again", "the router light is red",
             "SR-300 shows a red LED since this morning"]
    # pairwise distances: 0-1 0.17, 0-2 0.33, 1-2 0.43, 3 to the others 0.92-0.93
    assert most_different(texts, ["a"] * 4, 2) == [1, 3]
    assert most_different(texts, ["a"] * 4, 3) == [1, 2, 3]
    # covering distinct final answers comes first
    assert most_different(texts, ["x", "x", "y", "x"], 2) == [2, 3]
    assert most_different(texts, ["x", "y", "x", "y"], 2) == [0, 3]  # ties: the earlier subset
    assert most_different(texts, ["a"] * 4, 9) == [0, 1, 2, 3]


def test_cap_openers_groups_by_scenario_and_first_reply() -> None:
    def row(i: str, user: str, first: str) -> dict:
        return {"id": i, "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": first}]}
    rows = [row("s#0", "red light router", "A"), row("s#1", "red light on the router", "A"),
            row("s#2", "LED shows red since morning", "A"), row("s#d0.0", "red light router", "B"),
            row("t#0", "red light router", "A")]
    assert [r["id"] for r in cap_openers(rows, 1)] == ["s#0", "s#d0.0", "t#0"]
    assert [r["id"] for r in cap_openers(rows, 2)] == ["s#1", "s#2", "s#d0.0", "t#0"]


def test_every_clarifying_scenario_has_a_direct_answer_opener() -> None:
    authoring = load_authoring(AUTHORING, KB)
    missing = [f"{loc.item.id} reply {j}" for loc in authoring.scenarios if loc.item.clarify
               for j, r in enumerate(loc.item.clarify.replies) if not r.direct]
    assert not missing, missing
    assert sum(bool(loc.item.clarify) for loc in authoring.scenarios) == 97


def test_default_build_reproduces_the_committed_files(tmp_path: Path) -> None:
    build(AUTHORING, KB, tmp_path, system_prompt=load_prompt("support_system"))
    for name in ("train.jsonl", "dev.jsonl", "eval.jsonl", "dev_key_facts.jsonl"):
        assert (tmp_path / name).read_bytes() == (DATA_DIR / name).read_bytes(), name


@pytest.mark.parametrize("name", ["train_fixed", "train_fixed_dedup", "train_today_dedup"])
def test_committed_variants_are_current(tmp_path: Path, name: str) -> None:
    manifest = json.loads((VARIANTS / f"{name}.manifest.json").read_text())
    out = tmp_path / f"{name}.jsonl"
    rows = build_train_variant(AUTHORING, KB, out, system_prompt=load_prompt("support_system"),
                               variant=manifest["variant"], max_openers=manifest["max_openers"],
                               dev_fraction=manifest["dev_fraction"], seed=manifest["seed"])
    assert out.read_bytes() == (VARIANTS / f"{name}.jsonl").read_bytes()
    assert (tmp_path / f"{name}.manifest.json").read_text() == (VARIANTS / f"{name}.manifest.json").read_text()
    dev = {r["id"].split("#")[0] for r in read_jsonl(DATA_DIR / "dev.jsonl")}
    assert not dev & {r["id"].split("#")[0] for r in rows}


def test_fixed_data_asks_and_escalates_less_than_today() -> None:
    def shares(path: Path) -> tuple[float, float]:
        first = [next(m["content"] for m in r["messages"] if m["role"] == "assistant") for r in read_jsonl(path)]
        return (sum(map(bh.asks_question, first)) / len(first), sum(map(bh.escalates, first)) / len(first))
    today, fixed = shares(DATA_DIR / "train.jsonl"), shares(VARIANTS / "train_fixed.jsonl")
    assert fixed[0] < today[0] and fixed[1] < today[1]


def test_dev_key_facts_present_for_every_dev_item() -> None:
    items = dev_items()
    assert [r["id"] for r in items] == [r["id"] for r in read_jsonl(DATA_DIR / "dev.jsonl")]
    assert all(r["key_facts"] and isinstance(r["answerable"], bool) for r in items)


def test_dev_key_facts_errors_name_file_line_field(tmp_path: Path) -> None:
    bad = tmp_path / "facts.jsonl"
    bad.write_text('{"id": "a#0", "answerable": true, "key_facts": ["x"]}\n{"id": "a#1", "answerable": true, "key_facts": []}\n')
    with pytest.raises(DataError) as exc:
        load_dev_facts(bad)
    assert f"{bad}:2: key_facts: " in str(exc.value)
    dev = tmp_path / "dev.jsonl"
    dev.write_text('{"id": "b#0", "domain": "it", "messages": [{"role": "user", "content": "q"}, '
                   '{"role": "assistant", "content": "a"}]}\n')
    bad.write_text('{"id": "a#0", "answerable": true, "key_facts": ["x"]}\n')
    with pytest.raises(DataError) as exc:
        dev_items(dev, bad)
    assert f"{dev}:1: key_facts: no row for id 'b#0'" in str(exc.value)


def test_dev_scenario_without_key_facts_is_an_error(tmp_path: Path) -> None:
    d = tmp_path / "yaml"
    d.mkdir()
    for p in (FIX / "yaml").glob("*.yaml"):
        text = p.read_text()
        (d / p.name).write_text(text.replace('  key_facts: ["a fixture fact"]\n', "") if p.name == "product.yaml" else text)
    with pytest.raises(DataError) as exc:
        build(d, FIX / "kb", tmp_path / "out", system_prompt="S", dev_fraction=0.3, eval_count=None)
    assert f"{d / 'product.yaml'}:" in str(exc.value) and ": key_facts: dev scenario" in str(exc.value)


def test_guard_set_validates_has_40_items_and_no_leakage() -> None:
    from supportbot.data.leakage import check
    from supportbot.data.validate import validate_files

    path = DATA_DIR / "guard.jsonl"
    issues, counts = validate_files([path], sequence_len=None, tokenizer=None, kind="eval")
    assert not issues, issues
    rows = read_jsonl(path)
    assert counts[str(path)] == len(rows) >= 40
    assert all(r["domain"] == "it" and r["answerable"] and r["key_facts"] for r in rows)
    train = [r for p in (DATA_DIR / "train.jsonl", DATA_DIR / "dev.jsonl", VARIANTS / "train_fixed.jsonl")
             for r in read_jsonl(p)]
    questions, answers = check(train, rows, n=8)  # the leakage command's defaults: n 8, thresholds 0.5 / 0.8
    assert all(p.score <= 0.5 for p in questions) and all(p.score <= 0.8 for p in answers)
    assert not any(bh.asks_question(r["reference_answer"]) or bh.escalates(r["reference_answer"]) for r in rows)
