#!/usr/bin/env python
"""Blind label sheets for the judge's calibration set (checks, answers, pairs) and their merging.

    python judge/run.py label-sheets answers --part controls --out-dir data/labels/v2
    python judge/run.py label-sheets answers --part models --models base tuned --n-model 22 --out-dir data/labels/v2
    python judge/run.py label-sheets pairs --models base tuned --n-pairs 44 --n-control-pairs 20 --out-dir data/labels/v2
    python judge/run.py label-sheets agreement --out-dir data/labels/v2      # inter-annotator kappa, disagreements
    python judge/run.py label-sheets finalize --out-dir data/labels/v2       # adjudicated labels -> data/labels/*.jsonl

``answers`` draws model answers (seeded, stratified by domain and answerable) plus control answers
with a known expected label (src/supportbot/judge/labelling/controls.py: references, references with a forbidden claim
spliced in or a key fact's number altered, plain escalations) and writes
- ``<out>/answers_key_<part>.jsonl``: which model or control recipe made each answer (never shown to annotators);
- ``<out>/sheets/answers-<part>_<k>.jsonl``: blind batches, one row per answer with the item (conversation,
  reference answer, numbered key facts and forbidden claims, kb_refs) and the answer, in random order.
``pairs`` writes ``pairs_key.jsonl`` and ``sheets/pairs_<k>.jsonl`` the same way (A/B order random).
Annotators (AI helpers with separate contexts, given only judge/RUBRIC.md, data/kb/, and one sheet)
write ``<out>/annotations/<annotator>/<sheet name>`` with one row per sheet row:
  answers: {"row": "c003", "key_facts": ["stated", "not_stated", "contradicted"], "forbidden": ["asserted", "not_asserted"],
            "hallucination": "0"|"1"|"2"|"not_attempted", "rationale": "..."}
  pairs:   {"row": "p003", "label": "A"|"B"|"tie", "rationale": "..."}
"""

from __future__ import annotations

import argparse
from pathlib import Path

# the subcommands live in src/supportbot/judge/labelling/; their names are re-exported here for importers
from supportbot.cli_errors import cli_main
from supportbot.judge.labelling.agreement import agreement, cmd_agreement, write_adjudication_sheets  # noqa: F401
from supportbot.judge.labelling.annotations import (  # noqa: F401
    doubly_annotated,
    eval_items,
    load_annotations,
    load_answer_keys,
    stale_rows,
)
from supportbot.judge.labelling.finalize import cmd_finalize
from supportbot.judge.labelling.label_rows import (  # noqa: F401
    CLAIM_LABELS,
    FACT_LABELS,
    HALLU_LABELS,
    PAIR_LABELS,
    check_labels,
    validate,
)
from supportbot.judge.labelling.sheets import (  # noqa: F401
    CONTROL_COUNTS,
    cmd_answers,
    cmd_pairs,
    item_view,
    stratified,
    write_sheets,
)

_HERE = Path(__file__).resolve().parent


@cli_main  # a missing or bad input file, a bad option value: 'error: ...', rc 2
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("answers", "pairs", "agreement", "finalize"):
        s = sub.add_parser(name)
        if name == "answers":
            s.add_argument("--part", choices=["controls", "models"], required=True,
                           help="control answers (known expected label) or sampled model answers")
        if name == "finalize":
            s.add_argument("--allow-pending", action="store_true", help="write what is final, leave the rest out")
        s.add_argument("--out-dir", type=Path, default=Path("data/labels/v2"))
        s.add_argument("--seed", type=int, default=7)
        s.add_argument("--batch", type=int, default=28, help="rows per sheet")
        s.add_argument("--models", nargs=2, default=["base", "tuned"])
        s.add_argument("--n-model", type=int, default=22, help="answers per model")
        s.add_argument("--n-pairs", type=int, default=44, help="model-vs-model pairs")
        s.add_argument("--n-control-pairs", type=int, default=20, help="reference-vs-model pairs (expected clear winners)")
    args = p.parse_args(argv)
    return {"answers": cmd_answers, "pairs": cmd_pairs, "agreement": cmd_agreement, "finalize": cmd_finalize}[args.cmd](args)


if __name__ == "__main__":
    raise SystemExit(main())
