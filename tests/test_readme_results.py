"""The README's Evaluation tables must be exactly what results/summary.json renders to."""

from __future__ import annotations

import json

from scripts.update_readme import END, START, render_block
from supportbot.paths import RESULTS_DIR, ROOT


def test_readme_tables_match_committed_results():
    summary_path = RESULTS_DIR / "summary.json"
    assert summary_path.is_file(), "results/summary.json is missing: run `python scripts/run_pipeline.py`"
    readme = (ROOT / "README.md").read_text()
    assert START in readme and END in readme, "README.md lost its table markers"
    block = readme[readme.index(START): readme.index(END) + len(END)]
    expected = render_block(json.loads(summary_path.read_text()))
    assert block == expected, "README tables differ from results/summary.json: run `python scripts/update_readme.py`"


def test_every_number_file_in_summary_exists():
    summary = json.loads((RESULTS_DIR / "summary.json").read_text())
    for section in ("training", "pairwise", "hallucination", "calibration", "lm_eval"):
        assert section in summary, f"results/summary.json has no {section!r} section (missing: {summary.get('missing')})"
