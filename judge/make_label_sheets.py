#!/usr/bin/env python
"""Blind label sheets for the judge's calibration set (checks, answers, pairs) and their merging.

    python judge/make_label_sheets.py answers --part controls --out-dir judge/rubric/v2
    python judge/make_label_sheets.py answers --part models --models base tuned --n-model 22 --out-dir judge/rubric/v2
    python judge/make_label_sheets.py pairs --models base tuned --n-pairs 44 --n-control-pairs 20 --out-dir judge/rubric/v2
    python judge/make_label_sheets.py agreement --out-dir judge/rubric/v2      # inter-annotator kappa, disagreements
    python judge/make_label_sheets.py finalize --out-dir judge/rubric/v2       # adjudicated labels -> judge/rubric/*.jsonl

``answers`` draws model answers (seeded, stratified by domain and answerable) plus control answers
with a known expected label (judge/controls.py: references, references with a forbidden claim
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
import json
import random
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0]).resolve() == _HERE:
    sys.path.pop(0)
for _p in (_HERE.parent / "src", _HERE.parent):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from judge import controls  # noqa: E402
from judge.stats import cohen_kappa  # noqa: E402
from supportbot.jsonl import read_jsonl, write_jsonl  # noqa: E402
from supportbot.paths import DATA_DIR, RESULTS_DIR  # noqa: E402

FACT_LABELS = ("stated", "not_stated", "contradicted")
CLAIM_LABELS = ("asserted", "not_asserted")
HALLU_LABELS = ("0", "1", "2", "not_attempted")
PAIR_LABELS = ("A", "B", "tie")
CONTROL_COUNTS = {"reference": 36, "spliced_forbidden": 14, "altered_fact": 10, "escalation": 8}


def eval_items() -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in read_jsonl(DATA_DIR / "eval.jsonl")}


def item_view(item: dict[str, Any]) -> dict[str, Any]:
    """What an annotator sees of an eval item."""
    return {"item_id": item["id"], "domain": item["domain"], "answerable": item["answerable"],
            "conversation": item["messages"], "reference_answer": item["reference_answer"],
            "key_facts": {str(i): f for i, f in enumerate(item["key_facts"], 1)},
            "forbidden_claims": {str(i): c for i, c in enumerate(item["forbidden_claims"], 1)},
            "kb_refs": [f"data/kb/{k}" for k in item.get("kb_refs") or []]}


def stratified(ids: list[str], items: dict[str, dict], n: int, rng: random.Random) -> list[str]:
    """``n`` ids spread over (domain, answerable) strata in proportion, seeded."""
    strata: dict[tuple, list[str]] = defaultdict(list)
    for i in ids:
        strata[(items[i]["domain"], items[i]["answerable"])].append(i)
    for v in strata.values():
        rng.shuffle(v)
    out: list[str] = []
    while len(out) < min(n, len(ids)):
        for key in sorted(strata, key=str):
            if strata[key] and len(out) < n:
                out.append(strata[key].pop())
    return out


def write_sheets(out_dir: Path, kind: str, rows: list[dict[str, Any]], batch: int) -> list[Path]:
    paths = []
    for k in range(0, len(rows), batch):
        path = out_dir / "sheets" / f"{kind}_{k // batch + 1}.jsonl"
        write_jsonl(path, rows[k:k + batch])
        paths.append(path)
    return paths


def cmd_answers(args: argparse.Namespace) -> int:
    """Blind answer sheets of one part: ``models`` (sampled model answers) or ``controls``."""
    items = eval_items()
    rng = random.Random(f"{args.seed}-{args.part}")
    key: list[dict[str, Any]] = []
    for model in args.models if args.part == "models" else []:
        answers = {r["id"]: r for r in read_jsonl(RESULTS_DIR / "answers" / f"{model}.jsonl")}
        for iid in stratified(sorted(answers), items, args.n_model, rng):
            a = answers[iid]
            key.append({"item_id": iid, "source": f"model:{model}", "answer": a["answer"],
                        "note": f"decoding {json.dumps(a.get('decoding'))}, weights {a.get('model_fingerprint')}"})
    for recipe, n in CONTROL_COUNTS.items() if args.part == "controls" else []:
        pool = sorted(items)
        made = 0
        for iid in stratified(pool, items, len(pool), rng):
            if made >= n:
                break
            if recipe == "reference" and not items[iid]["answerable"]:
                continue  # an unanswerable item's reference is itself an escalation
            c = controls.make(items[iid], recipe, rng)
            if c is not None:
                key.append({"item_id": iid, "source": f"control:{recipe}", "answer": c.answer, "note": c.note})
                made += 1
    rng.shuffle(key)
    for i, row in enumerate(key, 1):
        row["row"] = f"{args.part[0]}{i:03d}"
    write_jsonl(args.out_dir / f"answers_key_{args.part}.jsonl", key)
    sheet = [{"row": r["row"], **item_view(items[r["item_id"]]), "answer": r["answer"]} for r in key]
    paths = write_sheets(args.out_dir, f"answers-{args.part}", sheet, args.batch)
    by = defaultdict(int)
    for r in key:
        by[r["source"]] += 1
    print(f"{len(key)} answers ({dict(by)}) in {len(paths)} sheets under {args.out_dir / 'sheets'}")
    return 0


def cmd_pairs(args: argparse.Namespace) -> int:
    items = eval_items()
    rng = random.Random(args.seed + 1)
    a_name, b_name = args.models
    ans = {m: {r["id"]: r["answer"] for r in read_jsonl(RESULTS_DIR / "answers" / f"{m}.jsonl")} for m in args.models}
    common = sorted(set(ans[a_name]) & set(ans[b_name]))
    key = []
    for iid in stratified(common, items, args.n_pairs, rng):
        key.append({"item_id": iid, "x": (f"model:{a_name}", ans[a_name][iid]), "y": (f"model:{b_name}", ans[b_name][iid])})
    for iid in stratified(sorted(i for i in common if items[i]["answerable"]), items, args.n_control_pairs, rng):
        model = rng.choice(args.models)
        key.append({"item_id": iid, "x": ("control:reference", items[iid]["reference_answer"]), "y": (f"model:{model}", ans[model][iid])})
    rng.shuffle(key)
    rows, sheet = [], []
    for i, k in enumerate(key, 1):
        first, second = (k["x"], k["y"]) if rng.random() < 0.5 else (k["y"], k["x"])
        rows.append({"row": f"p{i:03d}", "item_id": k["item_id"], "source_a": first[0], "source_b": second[0],
                     "answer_a": first[1], "answer_b": second[1]})
        sheet.append({"row": f"p{i:03d}", **item_view(items[k["item_id"]]), "answer_a": first[1], "answer_b": second[1]})
    write_jsonl(args.out_dir / "pairs_key.jsonl", rows)
    paths = write_sheets(args.out_dir, "pairs", sheet, args.batch)
    print(f"{len(rows)} pairs in {len(paths)} sheets under {args.out_dir / 'sheets'}")
    return 0


def load_answer_keys(out_dir: Path) -> dict[str, dict[str, Any]]:
    """row id -> key row, over every part's key file."""
    return {r["row"]: r for path in sorted(out_dir.glob("answers_key_*.jsonl")) for r in read_jsonl(path)}


def stale_rows(out_dir: Path, items: dict[str, dict[str, Any]]) -> set[str]:
    """Rows whose eval item's key facts or forbidden claims changed after the sheet was made (labels no longer fit)."""
    out = set()
    for path in sorted((out_dir / "sheets").glob("*.jsonl")):
        for r in read_jsonl(path):
            it = items.get(r["item_id"])
            if it is None or list(r["key_facts"].values()) != it["key_facts"] \
                    or list(r["forbidden_claims"].values()) != it["forbidden_claims"]:
                out.add(r["row"])
    return out


def load_annotations(out_dir: Path, kind: str) -> dict[str, dict[str, dict[str, Any]]]:
    """annotator -> row id -> annotation, validated (file:line: field: problem on a bad row)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for ann_dir in sorted((out_dir / "annotations").glob("*")):
        if not ann_dir.is_dir() or ann_dir.name == "adjudication":
            continue
        rows: dict[str, dict[str, Any]] = {}
        for path in sorted(ann_dir.glob(f"{kind}*.jsonl")):
            for n, r in enumerate(read_jsonl(path), 1):
                validate(r, kind, f"{path}:{n}")
                rows[str(r["row"])] = r
        if rows:
            out[ann_dir.name] = rows
    return out


def validate(r: dict[str, Any], kind: str, where: str) -> None:
    if "row" not in r:
        raise SystemExit(f"{where}: missing field 'row'")
    if not str(r.get("rationale", "")).strip():
        raise SystemExit(f"{where}: field 'rationale' is empty")
    if kind == "pairs":
        if r.get("label") not in PAIR_LABELS:
            raise SystemExit(f"{where}: field 'label' must be one of {PAIR_LABELS}, got {r.get('label')!r}")
        return
    if str(r.get("hallucination")) not in HALLU_LABELS:
        raise SystemExit(f"{where}: field 'hallucination' must be one of {HALLU_LABELS}, got {r.get('hallucination')!r}")
    for field, labels in (("key_facts", FACT_LABELS), ("forbidden", CLAIM_LABELS)):
        vals = r.get(field)
        if not isinstance(vals, list) or any(v not in labels for v in vals):
            raise SystemExit(f"{where}: field {field!r} must be a list of {labels}, got {vals!r}")


def check_labels(ann: dict[str, Any], key_row: dict[str, Any], items: dict[str, dict]) -> list[tuple[str, str]]:
    """(check id, label) pairs of one answer annotation, e.g. ("fact:2", "stated")."""
    item = items[key_row["item_id"]]
    facts, claims = ann["key_facts"], ann["forbidden"]
    if len(facts) != len(item["key_facts"]) or len(claims) != len(item["forbidden_claims"]):
        raise SystemExit(f"row {key_row['row']}: expected {len(item['key_facts'])} key_facts and "
                         f"{len(item['forbidden_claims'])} forbidden labels, got {len(facts)} and {len(claims)}")
    return [(f"fact:{i}", v) for i, v in enumerate(facts, 1)] + [(f"forbidden:{i}", v) for i, v in enumerate(claims, 1)]


def doubly_annotated(data: dict[str, dict[str, dict[str, Any]]]) -> dict[str, tuple[dict, dict]]:
    """row id -> its first two annotations (annotators in folder order), for rows labelled at least twice."""
    by_row: dict[str, list[dict]] = defaultdict(list)
    for rows in data.values():
        for r, ann in rows.items():
            by_row[r].append(ann)
    return {r: (a[0], a[1]) for r, a in sorted(by_row.items()) if len(a) >= 2}


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


def _final(row: str, anns: list[dict[str, Any]], adjudicated: dict[str, dict[str, Any]], fields: tuple[str, ...]) -> dict | None:
    """The agreed annotation of a row, or the adjudicator's when the two annotators differ (None: not yet)."""
    if len(anns) < 2:
        return None
    if all(anns[0].get(f) == anns[1].get(f) for f in fields):
        return anns[0] | {"adjudicated": False}
    return adjudicated[row] | {"adjudicated": True} if row in adjudicated else None


def cmd_finalize(args: argparse.Namespace) -> int:
    """Final label files from two annotations per row plus adjudications: judge/rubric/{checks,hallucination_v2,pairwise_v2}.jsonl."""
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
        s.add_argument("--out-dir", type=Path, default=Path("judge/rubric/v2"))
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
