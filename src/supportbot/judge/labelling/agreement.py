"""Inter-annotator agreement (``agreement``) and the adjudication sheets of the disagreements."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from supportbot.jsonl import read_jsonl, write_jsonl
from supportbot.judge.labelling.annotations import (
    doubly_annotated,
    eval_items,
    load_annotations,
    load_answer_keys,
    stale_rows,
)
from supportbot.judge.labelling.label_rows import (
    CLAIM_LABELS,
    FACT_LABELS,
    HALLU_LABELS,
    PAIR_LABELS,
    check_labels,
)
from supportbot.judge.metrics import cohen_kappa


def agreement(xs: list, ys: list, labels: Sequence) -> dict[str, Any]:
    """n, Cohen's kappa and raw agreement of two label lists."""
    return {"n": len(xs), "kappa": cohen_kappa(xs, ys, labels),
            "agreement": sum(x == y for x, y in zip(xs, ys, strict=True)) / max(1, len(xs))}


def cmd_agreement(args: argparse.Namespace) -> int:
    items = eval_items()
    key = load_answer_keys(args.out_dir)
    result: dict[str, Any] = {"annotators": "AI (LLM helpers with separate contexts; each saw only judge/RUBRIC.md, "
                                            "data/kb/ and its sheet)"}
    stale = stale_rows(args.out_dir, items)
    anns = {a: {r: v for r, v in rows.items() if r not in stale} for a, rows in load_annotations(args.out_dir, "answers").items()}
    pair_anns = {a: {r: v for r, v in rows.items() if r not in stale} for a, rows in load_annotations(args.out_dir, "pairs").items()}
    result["left_out_stale_rows"] = sorted(stale)
    answers, pairs = doubly_annotated(anns), doubly_annotated(pair_anns)
    h1 = [str(x["hallucination"]) for x, _ in answers.values()]
    h2 = [str(y["hallucination"]) for _, y in answers.values()]
    c1 = [v for r, (x, _) in answers.items() for _, v in check_labels(x, key[r], items)]
    c2 = [v for r, (_, y) in answers.items() for _, v in check_labels(y, key[r], items)]
    result["hallucination"] = agreement(h1, h2, HALLU_LABELS)
    result["hallucination"]["binary_kappa"] = cohen_kappa([x in ("1", "2") for x in h1], [y in ("1", "2") for y in h2],
                                                          [False, True])
    result["checks"] = agreement(c1, c2, FACT_LABELS + CLAIM_LABELS)
    p1, p2 = [x["label"] for x, _ in pairs.values()], [y["label"] for _, y in pairs.values()]
    result["pairwise"] = agreement(p1, p2, PAIR_LABELS)
    fields = ("hallucination", "key_facts", "forbidden")
    disagreements = {"answers": [r for r, (x, y) in answers.items() if any(str(x[f]) != str(y[f]) for f in fields)],
                     "pairs": [r for r, (x, y) in pairs.items() if x["label"] != y["label"]]}
    result["disagreements"] = disagreements
    # the controls are easy (most are the reference itself); agreement on the model answers alone
    model_rows = [r for r in answers if r.startswith("m")]
    if model_rows:
        result["hallucination_model_answers_only"] = agreement([str(answers[r][0]["hallucination"]) for r in model_rows],
                                                               [str(answers[r][1]["hallucination"]) for r in model_rows],
                                                               HALLU_LABELS)
    write_adjudication_sheets(args.out_dir, disagreements, anns, pair_anns)
    (args.out_dir / "agreement.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "disagreements"}, indent=2))
    print(f"disagreements: {len(disagreements['answers'])} answers, {len(disagreements['pairs'])} pairs "
          f"-> {args.out_dir / 'agreement.json'}")
    return 0


def write_adjudication_sheets(out_dir: Path, disagreements: dict[str, list[str]], anns: dict, pair_anns: dict) -> None:
    """sheets/adjudicate_{answers,pairs}.jsonl: each disagreement with both annotations, for a third annotator."""
    shown = {r["row"]: r for path in sorted((out_dir / "sheets").glob("*.jsonl")) for r in read_jsonl(path)
             if not path.name.startswith("adjudicate")}
    for kind, data in (("answers", anns), ("pairs", pair_anns)):
        both = doubly_annotated(data)
        rows = []
        for row in disagreements[kind]:
            first, second = ({k: v for k, v in a.items() if k != "row"} for a in both[row])
            rows.append(shown.get(row, {"row": row}) | {"annotation_1": first, "annotation_2": second})
        write_jsonl(out_dir / "sheets" / f"adjudicate_{kind}.jsonl", rows)
