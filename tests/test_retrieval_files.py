"""File-aware ranking (supportbot.retrieval_files), dev queries with kb_refs, and the dev-only selection rule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from supportbot.data.authoring import load_authoring
from supportbot.kb_prompt import KbPrompter
from supportbot.paths import DATA_DIR, RESULTS_DIR
from supportbot.retrieval import KB_DIR, KbIndex, RetrievalError
from supportbot.retrieval_eval import load_dev_queries
from supportbot.retrieval_files import FileRanker, QueryMemory, diverse_order, rrf_files
from tools import measure_retrieval as mr

QUERIES = ["My SR-300 router shows a solid red light after the update, what now?",
           "How do I hot swap a drive in the HV-2 NAS in RAID 1?",
           "Which firmware added the WireGuard VPN server and guest networks?",
           "warranty for my SM-20 extender that stopped working"]


@pytest.fixture(scope="module")
def bm25(tmp_path_factory: pytest.TempPathFactory) -> KbIndex:
    return KbIndex.build(KB_DIR, method="bm25", cache_dir=tmp_path_factory.mktemp("cache"))


def test_diverse_top_k_never_repeats_a_file_while_other_files_match(bm25: KbIndex) -> None:
    diverse = FileRanker(bm25, "diverse")
    repeats_in_plain = 0
    for q in QUERIES:
        plain = [p.chunk.source for p in bm25.search(q, 3)]
        repeats_in_plain += len(plain) - len(set(plain))
        top = diverse.search(q, 3)
        assert [p.rank for p in top] == [1, 2, 3]
        assert len({p.chunk.source for p in top}) == 3, [p.chunk.id for p in top]
        assert top[0].chunk.id == bm25.search(q, 1)[0].chunk.id  # the best chunk stays first
        full = diverse.search(q, len(bm25.chunks))  # every chunk still comes back, once
        assert sorted(p.chunk.id for p in full) == sorted(c.id for c in bm25.chunks)
    assert repeats_in_plain > 0, "the plain top 3 never repeats a file here: the test would prove nothing"


def test_plain_strategy_is_the_index_order_and_keeps_the_committed_arms_settings(tmp_path: Path) -> None:
    index = KbIndex.build(KB_DIR, method="bm25", cache_dir=tmp_path)
    for q in QUERIES:
        assert FileRanker(index, "plain").search(q, 5) == index.search(q, 5)
    old = KbPrompter(index)
    plain = KbPrompter(index, ranker=FileRanker(index, "plain"))
    diverse = KbPrompter(index, ranker=FileRanker(index, "diverse"))
    assert plain.settings == old.settings and "strategy" not in plain.settings  # resumed rows still match
    assert diverse.settings == {**old.settings, "strategy": "diverse"}
    msgs = [{"role": "user", "content": QUERIES[0]}]
    assert len({p.chunk.source for p in diverse.retrieve(msgs)}) == 3
    with pytest.raises(RetrievalError, match="unknown ranking strategy 'mmr'"):
        FileRanker(index, "mmr")
    with pytest.raises(RetrievalError, match="knn_m must be at least 1"):
        FileRanker(index, "diverse", knn_m=0)


def test_default_kb_prompter_settings_match_the_committed_kb_answers() -> None:
    rows = [json.loads(line) for line in (RESULTS_DIR / "answers" / "base_kb.jsonl").read_text().splitlines()[:1]]
    recorded = {k: v for k, v in rows[0]["kb"].items() if k != "passages"}
    assert KbPrompter.build().settings == recorded


def _memory() -> QueryMemory:
    eye = np.eye(4, dtype=np.float32)
    return QueryMemory(scenarios=["s1", "s1", "s2", "s3"], files=[("a.md", "b.md"), ("a.md", "b.md"), ("c.md",), ("d.md",)],
                       embeddings=eye, sha256="x")


def test_knn_votes_weight_by_similarity_count_a_scenario_once_and_can_exclude_it() -> None:
    mem = _memory()
    q = np.array([0.1, 0.9, 0.3, 0.0], dtype=np.float32)  # closest: s1 (row 1), then s2
    assert mem.votes_for(q, m=1) == ["a.md", "b.md"]
    assert mem.votes_for(q, m=2) == ["a.md", "b.md", "c.md"]
    assert mem.votes_for(q, m=2, exclude_scenario="s1") == ["c.md", "d.md"]  # a training row never votes for itself


def test_rrf_and_file_order(bm25: KbIndex) -> None:
    assert rrf_files(["a", "b", "c"], ["b"]) == ["b", "a", "c"]  # a file the prior names moves up
    assert rrf_files(["a", "b", "c"], ["c", "b"]) == ["c", "b", "a"]  # 1/61 + 1/63 > 2/62 > 1/61
    assert rrf_files(["a", "b"], ["b", "a"]) == ["a", "b"]  # a tie keeps the first order
    ranked = bm25.search(QUERIES[1], len(bm25.chunks))
    files = [p.chunk.source for p in diverse_order(ranked)][:9]
    assert len(set(files)) == len(files) == len({c.source for c in bm25.chunks})


def test_dev_queries_carry_their_scenarios_kb_refs_and_memory_excludes_dev_and_eval() -> None:
    dev = load_dev_queries(mode="all")
    scen = {loc.item.id: loc.item for loc in load_authoring(DATA_DIR / "authoring", KB_DIR).scenarios}
    dev_rows = [json.loads(line) for line in (DATA_DIR / "dev.jsonl").read_text().splitlines()]
    with_refs = [r for r in dev_rows if scen[r["id"].split("#")[0]].kb_refs]
    assert len(dev) == len(with_refs) >= 40 and {q.domain for q in dev} == {"product"}
    for q in dev:
        assert q.kb_refs == tuple(scen[q.id.split("#")[0]].kb_refs) and "\n" not in q.query  # the first user turn
    train_ids = {json.loads(line)["id"].split("#")[0] for line in (DATA_DIR / "train.jsonl").read_text().splitlines()}
    assert not train_ids & {q.id.split("#")[0] for q in dev}


def test_selection_is_made_on_dev_by_the_written_rule() -> None:
    def run(strategy: str, recall: float, hit: float, m: int | None = None) -> dict:
        return {"label": strategy, "method": "hybrid", "query_mode": "all", "max_chars": 600, "strategy": strategy,
                "knn_m": m, "overall": {"n": 40, "recall@3": recall, "hit@3": hit, "mrr": 0.9}}

    dev = [run("plain", 0.7, 1.0), run("diverse", 0.8, 0.9), run("knn", 0.8, 0.9, 20), run("prior", 0.8, 0.9, 10)]
    assert mr.choose(dev)["strategy"] == "diverse"  # best recall@3 (not hit@3); ties go to the simpler strategy
    assert "dev" in mr.SELECTION_RULE.split(":")[0].lower()


@pytest.mark.slow
def test_knn_memory_is_built_from_training_rows_only(tmp_path: Path) -> None:
    mem = QueryMemory.build()
    train_ids = {json.loads(line)["id"].split("#")[0] for line in (DATA_DIR / "train.jsonl").read_text().splitlines()}
    dev_ids = {json.loads(line)["id"].split("#")[0] for line in (DATA_DIR / "dev.jsonl").read_text().splitlines()}
    assert set(mem.scenarios) <= train_ids and not set(mem.scenarios) & dev_ids
    assert mem.embeddings.shape == (len(mem.scenarios), 384)
    index = KbIndex.build(KB_DIR, method="bm25", cache_dir=tmp_path)
    ranker = FileRanker(index, "prior", mem, knn_m=10)
    top = ranker.search("the SR-300 light is flashing green, can I unplug it to move it?", 3)
    assert len({p.chunk.source for p in top}) == 3 and ranker.settings["memory_sha256"] == mem.sha256
    for strategy in ("knn", "prior"):  # without a memory given (KbPrompter.build, eval/generate.py) one is built
        built = KbPrompter(index, ranker=FileRanker(index, strategy, knn_m=10))
        assert built.settings["memory_sha256"] == mem.sha256 and built.settings["knn_m"] == 10
    default = FileRanker(index, "prior", knn_m=10)
    assert [p.chunk.id for p in default.search("flashing green light, can I unplug?", 3)] == \
        [p.chunk.id for p in ranker.search("flashing green light, can I unplug?", 3)]
