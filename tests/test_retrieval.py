"""KB retrieval (supportbot.retrieval): chunking, the content-hash cache, search, eval kb_refs checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from supportbot.paths import DATA_DIR
from supportbot.retrieval import KB_DIR, Chunk, KbIndex, RetrievalError, chunk_markdown
from tools import measure_retrieval as mr

DOC = """# Widget manual

Intro paragraph about the widget.

## Status lights
| Light | Meaning | What to do |
|---|---|---|
| Solid red | Hardware fault after a failed update | Hold reset 30 s for recovery mode |
| Blinking green | Firmware update in progress, takes up to 6 minutes | Do not unplug |
| Solid amber | No internet: WAN cable unplugged | Check the cable in the WAN port |
| Off | No power | Check the adapter |

## Setup
### Steps
1. Connect the modem to the WAN port
   with the included cable (continuation line).
2. Power on and wait two minutes.
- Tip: a very long list item that goes on and on about placement and channels and interference and more
  words so that it is longer than the chunk limit used in this test by itself alone, and must not be cut.
"""


def _rows(doc: str) -> list[str]:
    return [ln for ln in doc.splitlines() if ln.startswith("| ") and not ln.startswith("| Light")]


def test_chunking_keeps_rows_and_items_whole_and_records_heading_paths() -> None:
    chunks = chunk_markdown(DOC, "widget.md", max_chars=150)
    by_text = "\n\n".join(c.text for c in chunks)
    assert all(isinstance(c, Chunk) and c.source == "widget.md" for c in chunks)
    assert len({c.id for c in chunks}) == len(chunks)
    # every table row sits whole in exactly one chunk, and each chunk with rows starts with the header
    table = [c for c in chunks if c.heading == "widget.md > Widget manual > Status lights"]
    assert len(table) >= 2, "the table is longer than max_chars, so it must be split between rows"
    for row in _rows(DOC):
        assert sum(row in c.text.splitlines() for c in table) == 1, row
    for c in table:
        assert c.text.splitlines()[:2] == ["| Light | Meaning | What to do |", "|---|---|---|"]
    # list items keep their continuation lines; an item longer than max_chars is a chunk of its own
    steps = [c for c in chunks if c.heading == "widget.md > Widget manual > Setup > Steps"]
    assert steps, [c.heading for c in chunks]
    assert any("1. Connect the modem to the WAN port\n   with the included cable (continuation line)." in c.text
               for c in steps)
    long_item = next(ln for ln in DOC.splitlines() if ln.startswith("- Tip"))
    holder = [c for c in steps if long_item in c.text]
    assert len(holder) == 1 and "must not be cut." in holder[0].text and len(holder[0].text) > 150
    assert any(c.heading == "widget.md > Widget manual" and c.text == "Intro paragraph about the widget." for c in chunks)
    assert not any(ln.startswith("#") for ln in by_text.splitlines())  # headings live in the heading path


def test_every_kb_line_lands_whole_in_a_chunk() -> None:
    for path in sorted(KB_DIR.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        chunks = chunk_markdown(text, path.name)
        lines = {ln for c in chunks for ln in c.text.splitlines()}
        for ln in text.splitlines():
            if ln.strip() and not ln.startswith("#"):
                assert ln in lines, f"{path.name}: line lost or cut: {ln[:60]!r}"
        assert all(c.heading.startswith(f"{path.name} > ") for c in chunks)


def _kb_copy(tmp_path: Path) -> Path:
    kb = tmp_path / "kb"
    kb.mkdir()
    for name in ("sr-300-router.md", "hv-2-nas.md"):
        shutil.copy(KB_DIR / name, kb / name)
    return kb


def test_cache_reused_when_unchanged_and_rebuilt_when_a_file_changes(tmp_path: Path) -> None:
    kb, cache = _kb_copy(tmp_path), tmp_path / "cache"
    first = KbIndex.build(kb, method="bm25", cache_dir=cache)
    assert not first.loaded_from_cache and (cache / first.key / "chunks.json").is_file()
    files = [p for p in (cache / first.key).rglob("*") if p.is_file()]
    assert files and all(p.suffix in (".json", ".npy") for p in files), files  # no pickle
    for npy in (p for p in files if p.suffix == ".npy"):
        np.load(npy, allow_pickle=False)
    second = KbIndex.build(kb, method="bm25", cache_dir=cache)
    assert second.loaded_from_cache and second.key == first.key and second.chunks == first.chunks
    q = "Can I run an OpenVPN server?"
    assert [(p.chunk.id, round(p.score, 5)) for p in second.search(q, 3)] == \
        [(p.chunk.id, round(p.score, 5)) for p in first.search(q, 3)]
    with (kb / "hv-2-nas.md").open("a", encoding="utf-8") as fh:
        fh.write("\n## Fan\n- The fan is silent below 30 degrees.\n")
    changed = KbIndex.build(kb, method="bm25", cache_dir=cache)
    assert not changed.loaded_from_cache and changed.key != first.key
    assert any("fan is silent" in c.text for c in changed.chunks)
    other_size = KbIndex.build(kb, method="bm25", cache_dir=cache, max_chars=200)
    assert not other_size.loaded_from_cache and other_size.key not in (first.key, changed.key)


def test_unreadable_cache_is_rebuilt_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kb, cache = _kb_copy(tmp_path), tmp_path / "cache"
    key = KbIndex.build(kb, method="bm25", cache_dir=cache).key
    (cache / key / "chunks.json").write_text("{not json")
    again = KbIndex.build(kb, method="bm25", cache_dir=cache)
    assert not again.loaded_from_cache and "unreadable retrieval cache" in capsys.readouterr().err
    assert KbIndex.build(kb, method="bm25", cache_dir=cache).loaded_from_cache


def test_search_finds_the_right_file(tmp_path: Path) -> None:
    index = KbIndex.build(KB_DIR, method="bm25", cache_dir=tmp_path)
    hits = index.search("Can I run an OpenVPN server on my SR-300 router?", k=3)
    assert [p.rank for p in hits] == [1, 2, 3]
    assert hits[0].chunk.source == "sr-300-router.md" and "WireGuard" in hits[0].chunk.text
    assert hits[0].chunk.heading == "sr-300-router.md > Skylark SR-300 Wi-Fi 6 router > Features and limits"
    assert hits[0].score >= hits[1].score >= hits[2].score and hits[0].score > 0
    nas = index.search("HV-2 NAS hot swap a drive in RAID 1", k=3)
    assert nas[0].chunk.source == "hv-2-nas.md"
    assert len(index.search("zzzz unknown words", k=2)) == 2  # no overlap: still k passages, score 0
    with pytest.raises(RetrievalError, match="non-empty"):
        index.search("   ", k=3)
    with pytest.raises(RetrievalError, match="at least 1"):
        index.search("router", k=0)


@pytest.mark.slow
def test_dense_and_hybrid_search_and_cached_embeddings(tmp_path: Path) -> None:
    kb = _kb_copy(tmp_path)
    dense = KbIndex.build(kb, method="dense", cache_dir=tmp_path / "c")
    assert dense.search("my NAS is making clicking noises, can I pull a disk out?", 1)[0].chunk.source == "hv-2-nas.md"
    assert KbIndex.build(kb, method="dense", cache_dir=tmp_path / "c").loaded_from_cache
    hybrid = KbIndex.build(kb, method="hybrid", cache_dir=tmp_path / "c")
    top = hybrid.search("OpenVPN server on the router", 2)
    assert top[0].chunk.source == "sr-300-router.md" and 0 < top[0].score <= 2 / 61


def test_bad_input_gets_clear_errors(tmp_path: Path) -> None:
    eval_path = tmp_path / "eval.jsonl"
    ok = {"id": "a", "domain": "product", "category": "router", "messages": [{"role": "user", "content": "hi"}],
          "kb_refs": ["sr-300-router.md"]}
    eval_path.write_text(json.dumps(ok) + "\n" + json.dumps({**ok, "id": "b", "kb_refs": ["sr-400.md"]}) + "\n")
    with pytest.raises(RetrievalError, match=rf"{eval_path}:2: kb_refs: KB file not found: .*sr-400\.md"):
        mr.load_eval_queries(eval_path, KB_DIR)
    eval_path.write_text(json.dumps({**ok, "kb_refs": ["../README.md"]}) + "\n")
    with pytest.raises(RetrievalError, match=rf"{eval_path}:1: kb_refs: KB file not found"):
        mr.load_eval_queries(eval_path, KB_DIR)
    eval_path.write_text(json.dumps({**ok, "messages": [{"role": "assistant", "content": "x"}]}) + "\n")
    with pytest.raises(RetrievalError, match=rf"{eval_path}:1: messages: no user message"):
        mr.load_eval_queries(eval_path, KB_DIR)
    eval_path.write_text(json.dumps(ok) + "\n{broken\n")
    with pytest.raises(RetrievalError, match=rf"{eval_path}:2: invalid JSON"):
        mr.load_eval_queries(eval_path, KB_DIR)
    with pytest.raises(RetrievalError, match="no \\*.md"):
        KbIndex.build(tmp_path / "empty", method="bm25", cache_dir=None)
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "bad.md").write_bytes(b"# Title\n\nline two\n\xff\xfe broken\n")
    with pytest.raises(RetrievalError, match=rf"{kb / 'bad.md'}:4: not UTF-8"):
        KbIndex.build(kb, method="bm25", cache_dir=None)
    with pytest.raises(RetrievalError, match="unknown retrieval method 'tfidf'"):
        KbIndex.build(KB_DIR, method="tfidf", cache_dir=None)


def test_eval_queries_and_metrics() -> None:
    last = mr.load_eval_queries(DATA_DIR / "eval.jsonl", KB_DIR, "last")
    users = mr.load_eval_queries(DATA_DIR / "eval.jsonl", KB_DIR, "users")
    assert len(last) == len(users) == 40 and {q.domain for q in last} == {"product"}
    multi = next(i for i, q in enumerate(users) if "\n" in q.query)
    assert users[multi].query.endswith(last[multi].query) and len(users[multi].query) > len(last[multi].query)
    m = mr.score_ranking(["a.md", "a.md", "b.md", "c.md"], ("b.md", "c.md"), ks=(1, 3, 5))
    assert (m["hit@1"], m["hit@3"], m["recall@3"], m["recall@5"], m["rr"]) == (0.0, 1.0, 0.5, 1.0, 1 / 3)
    assert (m["file_recall@1"], m["file_recall@3"]) == (0.0, 1.0)
    assert mr.score_ranking(["a.md"], ("z.md",))["rr"] == 0.0
