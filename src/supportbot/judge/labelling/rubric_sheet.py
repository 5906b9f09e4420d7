#!/usr/bin/env python
"""Sample real answers into labelling sheets for the human rubric sets, and finalize labelled sheets.

    python judge/run.py rubric-sheet sample --models base tuned            # writes data/labels/sheets/*.jsonl
    # ... a person fills "label" and "rationale" in each sheet row (see judge/RUBRIC.md) ...
    python judge/run.py rubric-sheet finalize                              # writes data/labels/{hallucination,pairwise}.jsonl

Sampling is seeded. The hallucination sheet takes answers from every model in turn, unanswerable
questions first (up to a quarter of the sheet), so both models and the escalation case are
covered. The pairwise sheet shows each pair in a random (seeded) A/B order and does not name the
models (they are kept in pairwise_key.jsonl and merged in at finalize), so the labeller is blind.
Finalize refuses unlabelled rows (naming file and line) and never overwrites a label file unless
--force is given.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from supportbot.cli_errors import cli_main
from supportbot.jsonl import iter_jsonl, write_jsonl
from supportbot.judge.inputs import (
    RUBRIC_DIR,
    HallucinationLabel,
    InputError,
    PairwiseLabel,
    answers_path,
    load_eval_items,
    model_name,
)
from supportbot.paths import DATA_DIR
from supportbot.records import answer_rows

_HERE = Path(__file__).resolve().parent

SHEETS = RUBRIC_DIR / "sheets"


def _context(item) -> dict:
    return {"question": item.question, "answerable": item.answerable,
            "reference_answer": item.reference_answer, "key_facts": item.key_facts,
            "forbidden_claims": item.forbidden_claims, "kb_refs": item.kb_refs}


def sample(eval_path: Path, models: list[str], n_hal: int, n_pairs: int, seed: int, out: Path) -> dict[str, int]:
    items = load_eval_items(eval_path)
    answers = {model_name(m): answer_rows(answers_path(m)) for m in models}
    names = list(answers)
    common = [i for i in items if all(i in a for a in answers.values())]
    if not common:
        raise InputError("no eval id has an answer from every model")
    rng = random.Random(seed)
    unans = [i for i in common if not items[i].answerable]
    rest = [i for i in common if items[i].answerable]
    rng.shuffle(unans)
    rng.shuffle(rest)
    order = unans[: max(1, n_hal // 4)] + rest + unans[max(1, n_hal // 4):]
    hal = []
    for k in range(min(n_hal, len(order) * len(names))):
        rid, model = order[k % len(order)], names[(k + k // len(order)) % len(names)]
        hal.append({"id": rid, "model": model, "answer": answers[model][rid]["answer"], "label": None, "rationale": "",
                    **_context(items[rid])})
    pairs, key = [], []
    if len(names) >= 2:
        ids = rng.sample(common, min(n_pairs, len(common)))
        for rid in ids:
            a, b = names[0], names[1]
            if rng.random() < 0.5:
                a, b = b, a
            pairs.append({"id": rid, "answer_a": answers[a][rid]["answer"], "answer_b": answers[b][rid]["answer"],
                          "label": None, "rationale": "", **_context(items[rid])})
            key.append({"id": rid, "model_a": a, "model_b": b})
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "hallucination_sheet.jsonl", hal)
    write_jsonl(out / "pairwise_sheet.jsonl", pairs)
    write_jsonl(out / "pairwise_key.jsonl", key)
    return {"hallucination": len(hal), "pairwise": len(pairs)}


def finalize(sheets: Path, rubric: Path, force: bool) -> dict[str, int]:
    key = {r["id"]: r for _, r in iter_jsonl(sheets / "pairwise_key.jsonl")} if (sheets / "pairwise_key.jsonl").is_file() else {}
    done = {}
    for kind, model in (("hallucination", HallucinationLabel), ("pairwise", PairwiseLabel)):
        src, dst = sheets / f"{kind}_sheet.jsonl", rubric / f"{kind}.jsonl"
        if not src.is_file():
            continue
        if dst.is_file() and not force:
            raise InputError(f"{dst} exists: labels are never overwritten (use --force deliberately)")
        rows = []
        for line, row in iter_jsonl(src):
            if row.get("label") in (None, "") or not str(row.get("rationale", "")).strip():
                raise InputError(f"{src}:{line}: field 'label'/'rationale': not labelled yet")
            if kind == "pairwise":
                row = {**row, **{k: v for k, v in key.get(row["id"], {}).items() if k != "id"}}
            if isinstance(row["label"], int):
                row["label"] = str(row["label"])
            try:
                model.model_validate(row)
            except Exception as exc:  # noqa: BLE001 - reported with file and line
                raise InputError(f"{src}:{line}: {exc}") from None
            rows.append(row)
        write_jsonl(dst, rows)
        done[kind] = len(rows)
    return done


@cli_main  # a missing or bad input file, a bad option value: 'error: ...', rc 2
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sample", help="write labelling sheets from answer files")
    s.add_argument("--eval", type=Path, default=DATA_DIR / "eval.jsonl")
    s.add_argument("--models", nargs="+", default=["base", "tuned"], help="model names or answers .jsonl paths")
    s.add_argument("--n-hallucination", type=int, default=70)
    s.add_argument("--n-pairs", type=int, default=45)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", type=Path, default=SHEETS)
    f = sub.add_parser("finalize", help="validate labelled sheets and write the rubric label files")
    f.add_argument("--sheets", type=Path, default=SHEETS)
    f.add_argument("--rubric-dir", type=Path, default=RUBRIC_DIR)
    f.add_argument("--force", action="store_true", help="overwrite existing label files")
    a = p.parse_args(argv)
    if a.command == "sample":
        n = sample(a.eval, a.models, a.n_hallucination, a.n_pairs, a.seed, a.out)
        print(f"wrote {a.out}: {n['hallucination']} answers and {n['pairwise']} pairs to label (see judge/RUBRIC.md)")
    else:
        n = finalize(a.sheets, a.rubric_dir, a.force)
        print(f"wrote {a.rubric_dir}: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
