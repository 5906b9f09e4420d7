"""RAFT-style training rows (issue 22 item 3): oracle mapping, format, P share, unanswerable and IT rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from supportbot import behaviour as bh
from supportbot.data.__main__ import main as data_main
from supportbot.data.authoring import load_authoring
from supportbot.data.build import build_train_variant
from supportbot.data.oracle import OracleFinder
from supportbot.data.raft import RaftConfig, RowPassages
from supportbot.data.variants import expand_fixed
from supportbot.jsonl import read_jsonl
from supportbot.kb_prompt import KbPrompter
from supportbot.paths import DATA_DIR, load_prompt
from supportbot.retrieval import DEFAULT_MAX_CHARS, Passage, chunk_markdown

AUTHORING, KB, VARIANTS = DATA_DIR / "authoring", DATA_DIR / "kb", DATA_DIR / "variants"
NAME = "train_fixed_raft"


def _chunks(max_chars: int = DEFAULT_MAX_CHARS) -> list:
    return [c for f in sorted(KB.glob("*.md")) for c in chunk_markdown(f.read_text(encoding="utf-8"), f.name, max_chars)]


def _fixed_answers() -> list[tuple[Any, str, str]]:
    """(scenario, row id, final answer) of every product conversation of the fixed expansion."""
    out = []
    for loc in load_authoring(AUTHORING, KB).scenarios:
        if loc.item.domain == "product":
            out += [(loc.item, loc.item.id + suffix, conv[-1]["content"]) for suffix, conv in expand_fixed(loc.item, "S")]
    return out


@pytest.mark.parametrize(("row_id", "chunk_id", "heading_ends"), [
    ("prod-fw-auto-updates#0", "firmware-history.md#0", "How updates work"),  # "03:00 and 05:00": only there
    ("prod-hv2-no-dlna#0", "hv-2-nas.md#0", "Specifications"),  # "No DLNA media server": only there
    ("prod-app-two-step#0", "skylark-home-app.md#1", "Skylark Home app"),  # "authenticator app": only there
    ("prod-sm20-placement#4", "sm-20-extender.md#2", "Placement"),  # summed idf picked the longer "What it is"
])
def test_oracle_is_the_chunk_that_states_the_answers_fact(row_id: str, chunk_id: str, heading_ends: str) -> None:
    finder = OracleFinder(_chunks())
    scenario, _, answer = next(x for x in _fixed_answers() if x[1] == row_id)
    oracle = finder.find(answer, scenario.kb_refs)
    assert oracle is not None and (oracle.id, oracle.heading.split(" > ")[-1]) == (chunk_id, heading_ends)


def test_every_answerable_product_answer_gets_an_oracle_from_its_kb_refs() -> None:
    finder = OracleFinder(_chunks())
    answers = [x for x in _fixed_answers() if not bh.declines(x[2])]
    assert len(answers) > 300
    for scenario, row_id, answer in answers:
        oracle = finder.find(answer, scenario.kb_refs)
        assert oracle is not None and oracle.source in scenario.kb_refs, row_id
    assert finder.find("zzz qqq", ["sm-20-extender.md"]) is None  # no shared word: no oracle, never a guess


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, list[RowPassages]]:
    """The committed RAFT variant rebuilt by the command's code path with its manifest's settings."""
    manifest = json.loads((VARIANTS / f"{NAME}.manifest.json").read_text())
    r = manifest["raft"]
    out = tmp_path_factory.mktemp("raft") / f"{NAME}.jsonl"
    details: list[RowPassages] = []
    build_train_variant(AUTHORING, KB, out, system_prompt=load_prompt("support_system"), variant=manifest["variant"],
                        max_openers=manifest["max_openers"], dev_fraction=manifest["dev_fraction"],
                        seed=manifest["seed"], raft=RaftConfig(p=r["p"], k=r["k"], max_chars=r["max_chars"],
                                                               seed=r["seed"]), raft_details=details)
    return out, manifest, details


@pytest.fixture(scope="module")
def prompter(rebuilt: tuple[Path, dict, list[RowPassages]]) -> KbPrompter:
    r = rebuilt[1]["raft"]
    return KbPrompter.build(KB, k=r["k"], max_chars=r["max_chars"])


@pytest.mark.slow
def test_committed_raft_variant_is_what_the_command_rebuilds(rebuilt: tuple[Path, dict, list[RowPassages]]) -> None:
    out, manifest, details = rebuilt
    assert out.read_bytes() == (VARIANTS / f"{NAME}.jsonl").read_bytes()
    assert out.with_suffix(".manifest.json").read_text() == (VARIANTS / f"{NAME}.manifest.json").read_text()
    assert len(details) == manifest["rows"] == len(read_jsonl(out))


@pytest.mark.slow
def test_system_prompt_is_byte_for_byte_kbprompter_render(rebuilt: tuple[Path, dict, list[RowPassages]],
                                                          prompter: KbPrompter) -> None:
    out, manifest, details = rebuilt
    assert manifest["raft"]["retriever"] == prompter.settings
    by_id = {c.id: c for c in prompter.index.chunks}
    support = load_prompt("support_system")
    for row, d in zip(read_jsonl(out), details, strict=True):
        assert row["id"] == d.id and len(d.passages) == len(set(d.passages)) == prompter.k
        passages = [Passage(by_id[cid], 0.0, rank) for rank, cid in enumerate(d.passages, start=1)]
        assert row["messages"][0] == {"role": "system", "content": prompter.render(support, passages)}


@pytest.mark.slow
def test_oracle_share_is_p_and_distractor_rows_lack_the_oracle(rebuilt: tuple[Path, dict, list[RowPassages]]) -> None:
    _, manifest, details = rebuilt
    with_oracle = [d for d in details if d.oracle is not None]
    present = [d for d in with_oracle if d.kind == "oracle"]
    assert with_oracle and abs(len(present) / len(with_oracle) - manifest["raft"]["p"]) <= 1 / len(with_oracle)
    assert all(d.oracle in d.passages for d in present)
    assert all(d.oracle not in d.passages for d in with_oracle if d.kind == "distractors")
    assert manifest["raft"]["rows"] == {k: sum(d.kind == k for d in details) for k in ("oracle", "distractors", "retrieved")}


@pytest.mark.slow
def test_answers_unchanged_and_unanswerable_rows_keep_escalation(rebuilt: tuple[Path, dict, list[RowPassages]]) -> None:
    out, _, details = rebuilt
    raft, plain = read_jsonl(out), read_jsonl(VARIANTS / "train_fixed_dedup.jsonl")  # same variant, same cap
    assert [r["id"] for r in raft] == [r["id"] for r in plain]
    assert all(a["messages"][1:] == b["messages"][1:] for a, b in zip(raft, plain, strict=True))
    unknown = [(r, d) for r, d in zip(raft, details, strict=True) if r["id"].split("#")[0].endswith("-unknown")]
    assert len(unknown) >= 8
    for row, d in unknown:
        assert d.kind == "retrieved" and d.oracle is None
        assert bh.escalates(row["messages"][-1]["content"])


@pytest.mark.slow
def test_it_rows_get_exactly_the_answer_time_prompt(rebuilt: tuple[Path, dict, list[RowPassages]],
                                                   prompter: KbPrompter) -> None:
    out, _, details = rebuilt
    support = load_prompt("support_system")
    it = [(r, d) for r, d in zip(read_jsonl(out), details, strict=True) if r["domain"] == "it"]
    assert it and all(d.kind == "retrieved" and d.oracle is None for _, d in it)
    for row, _ in it[::25]:  # every 25th IT row: what the _kb arm would send for this conversation
        system, _used = prompter.system_prompt(support, row["messages"][1:-1])
        assert row["messages"][0]["content"] == system


def test_raft_options_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert data_main(["build", "--raft-p", "0.8"]) == 1
    assert "--raft-p need --train-out" in capsys.readouterr().err
    assert data_main(["build", "--train-out", str(tmp_path / "x.jsonl"), "--raft-p", "1.5"]) == 1
    assert "--raft-p:0: option: must be between 0 and 1, got 1.5" in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()
