"""`python -m supportbot.data build` on a small fixture authoring folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supportbot.data.__main__ import main
from supportbot.data.build import build
from supportbot.data.issues import DataError

FIX = Path(__file__).parent / "fixtures" / "authoring"
SYSTEM = "SYSTEM PROMPT"


def _build(out: Path, authoring: Path = FIX / "yaml", **kw) -> dict:
    return build(authoring, FIX / "kb", out, system_prompt=SYSTEM, eval_count=None, **kw)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_build_is_deterministic(tmp_path: Path) -> None:
    _build(tmp_path / "a")
    _build(tmp_path / "b")
    for name in ("train.jsonl", "dev.jsonl", "eval.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_split_is_grouped_by_scenario_and_stratified(tmp_path: Path) -> None:
    splits = _build(tmp_path, dev_fraction=0.3, seed=13)
    scenario_split: dict[str, str] = {}
    for name in ("train", "dev"):
        for row in splits[name]:
            scenario = row["id"].split("#")[0]
            assert scenario_split.setdefault(scenario, name) == name, f"{scenario} in both splits"
    assert splits["dev"], "dev is empty"
    dev_domains = {r["domain"] for r in splits["dev"]}
    assert dev_domains == {"it", "product"}  # stratified: each domain contributes to dev
    total = len(splits["train"]) + len(splits["dev"])
    assert total == 4 + 5 + 4 + 4 + 4 + 3
    assert [r["id"] for r in _rows(tmp_path / "dev.jsonl")] == [r["id"] for r in splits["dev"]]
    other = _build(tmp_path / "other", dev_fraction=0.3, seed=14)
    assert len(other["train"]) + len(other["dev"]) == total


def test_expansion_answer_and_clarify(tmp_path: Path) -> None:
    splits = _build(tmp_path)
    rows = {r["id"]: r for r in splits["train"] + splits["dev"]}
    single = rows["it-printer-offline#1"]
    assert [m["role"] for m in single["messages"]] == ["system", "user", "assistant"]
    assert single["messages"][0]["content"] == SYSTEM
    assert single["messages"][1]["content"] == "My printer shows Offline in Windows, what now?"
    assert single["messages"][2]["content"].endswith("Remove and re-add the printer in Settings.")  # stripped
    assert single["domain"] == "it" and single["category"] == "printers"
    for i in range(5):
        conv = rows[f"it-forgot-password#{i}"]["messages"]
        assert [m["role"] for m in conv] == ["system", "user", "assistant", "user", "assistant"]
        assert conv[2]["content"] == "Is it a Microsoft account or a local account?"
        assert conv[3]["content"] == ("Microsoft account" if i % 2 == 0 else "Local account")
    ev = splits["eval"]
    assert [e["id"] for e in ev] == ["eval-it-001", "eval-prod-001"]
    assert ev[1]["answerable"] is False
    assert ev[0]["reference_answer"] == "Blank pages usually mean an empty or unseated cartridge."
    assert list(ev[0]) == ["id", "domain", "category", "answerable", "messages", "reference_answer",
                           "key_facts", "forbidden_claims", "kb_refs"]


BAD = """\
- id: it-ok
  domain: it
  category: printers
  openers: ["a printer question"]
  answer: "fine"

- id: it-bad
  domain: it
  category: printers
  openers:
    - "hello"
  answer: "one answer"
  clarify:
    question: "which one?"
    replies: []
  colour: blue
"""


def _bad_dir(tmp_path: Path, text: str) -> Path:
    d = tmp_path / "authoring"
    d.mkdir()
    (d / "it.yaml").write_text(text, encoding="utf-8")
    return d


def test_bad_scenario_names_file_line_and_field(tmp_path: Path) -> None:
    d = _bad_dir(tmp_path, BAD)
    with pytest.raises(DataError) as exc:
        _build(tmp_path / "out", d)
    msg = str(exc.value)
    f = d / "it.yaml"
    assert f"{f}:16: colour: unknown key" in msg
    assert f"{f}:15: clarify.replies: " in msg
    assert not (tmp_path / "out" / "train.jsonl").exists()


def test_answer_xor_clarify_and_kb_refs_and_duplicate_ids(tmp_path: Path) -> None:
    text = BAD.replace("  clarify:\n    question: \"which one?\"\n    replies: []\n  colour: blue\n", "")
    text += "  kb_refs: [missing.md]\n\n- id: it-ok\n  domain: it\n  category: email\n  openers: [\"x y\"]\n"
    d = _bad_dir(tmp_path, text)
    with pytest.raises(DataError) as exc:
        _build(tmp_path / "out", d)
    msg = str(exc.value)
    f = d / "it.yaml"
    assert f"{f}:15: row: give exactly one of `answer` or `clarify`" in msg
    assert f"{f}:7: kb_refs: KB file not found" in msg


def test_duplicate_id_across_files(tmp_path: Path) -> None:
    d = _bad_dir(tmp_path, BAD.split("\n\n")[0] + "\n")
    (d / "more.yaml").write_text("# more\n" + BAD.split("\n\n")[0].replace('"a printer', '"another printer') + "\n")
    with pytest.raises(DataError) as exc:
        _build(tmp_path / "out", d)
    assert f"{d / 'more.yaml'}:2: id: duplicate id 'it-ok' (first at {d / 'it.yaml'}:1)" in str(exc.value)


def test_cli_requires_exactly_100_eval_items(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["build", "--authoring-dir", str(FIX / "yaml"), "--kb-dir", str(FIX / "kb"), "--out-dir", str(tmp_path)]
    assert main(args) == 1
    assert "expected exactly 100 eval items in eval_*.yaml, found 2" in capsys.readouterr().err
    assert main(args + ["--allow-any-eval-count"]) == 0
    out = capsys.readouterr().out
    assert "train:" in out and "multi-turn" in out
    assert len(_rows(tmp_path / "eval.jsonl")) == 2
