"""Final label files from two annotations per row plus adjudications (``finalize``)."""

from __future__ import annotations

import argparse
from typing import Any

from supportbot.jsonl import read_jsonl, write_jsonl
from supportbot.judge.labelling.annotations import eval_items, load_annotations, load_answer_keys, stale_rows
from supportbot.judge.labelling.label_rows import check_labels, validate


def _final(row: str, anns: list[dict[str, Any]], adjudicated: dict[str, dict[str, Any]], fields: tuple[str, ...]) -> dict | None:
    """The agreed annotation of a row, or the adjudicator's when the two annotators differ (None: not yet)."""
    if len(anns) < 2:
        return None
    if all(anns[0].get(f) == anns[1].get(f) for f in fields):
        return anns[0] | {"adjudicated": False}
    return adjudicated[row] | {"adjudicated": True} if row in adjudicated else None


def cmd_finalize(args: argparse.Namespace) -> int:
    """Final label files from two annotations per row plus adjudications: data/labels/{checks,hallucination_v2,pairwise_v2}.jsonl."""
    items = eval_items()
    note = "AI annotators (LLM helpers, separate contexts, blind to every judge output and to the answer's source)"
    keys = load_answer_keys(args.out_dir)
    pair_keys = {r["row"]: r for r in read_jsonl(args.out_dir / "pairs_key.jsonl")} if (args.out_dir / "pairs_key.jsonl").is_file() else {}
    adj_dir = args.out_dir / "annotations" / "adjudication"
    out_checks, out_h, out_p, pending = [], [], [], []
    stale_set = stale_rows(args.out_dir, items)
    stale: list[str] = []
    for kind, key, fields in (("answers", keys, ("key_facts", "forbidden", "hallucination")), ("pairs", pair_keys, ("label",))):
        anns = load_annotations(args.out_dir, kind)
        adjudicated = {}
        for path in sorted(adj_dir.glob(f"{kind}*.jsonl")) if adj_dir.is_dir() else []:
            for n, r in enumerate(read_jsonl(path), 1):
                validate(r, kind, f"{path}:{n}")
                adjudicated[str(r["row"])] = r
        for row, k in sorted(key.items()):
            if row in stale_set:
                stale.append(row)  # the eval item changed after it was labelled: the labels no longer fit it
                continue
            got = [a[row] for a in anns.values() if row in a]
            final = _final(row, got, adjudicated, fields)
            if final is None:
                pending.append(row)
                continue
            who = sorted(a for a, rows in anns.items() if row in rows)
            base = {"row": row, "id": k["item_id"], "annotators": who, "adjudicated": final["adjudicated"], "labelled_by": note}
            if kind == "pairs":
                out_p.append(base | {"answer_a": k["answer_a"], "answer_b": k["answer_b"], "source_a": k["source_a"],
                                     "source_b": k["source_b"], "label": final["label"], "rationale": final["rationale"]})
                continue
            out_h.append(base | {"model": k["source"], "source": k["source"], "answer": k["answer"],
                                 "label": str(final["hallucination"]), "rationale": final["rationale"]})
            for check_id, label in check_labels(final, k | {"row": row}, items):
                out_checks.append({"row": row, "id": k["item_id"], "source": k["source"], "check": check_id, "label": label,
                                   "adjudicated": final["adjudicated"], "labelled_by": note})
    if pending and not args.allow_pending:
        raise SystemExit(f"{len(pending)} row(s) have fewer than two annotations or an unadjudicated disagreement, "
                         f"e.g. {pending[:5]}; label them or pass --allow-pending")
    rubric = args.out_dir.parent
    write_jsonl(rubric / "checks.jsonl", out_checks)
    write_jsonl(rubric / "hallucination_v2.jsonl", out_h)
    write_jsonl(rubric / "pairwise_v2.jsonl", out_p)
    print(f"wrote {len(out_checks)} checks, {len(out_h)} answer labels, {len(out_p)} pair labels to {rubric}/"
          + (f" ({len(pending)} rows pending)" if pending else "")
          + (f"; left out {len(stale)} row(s) whose eval item changed after labelling: {', '.join(stale)}" if stale else ""))
    return 0
