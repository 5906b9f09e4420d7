"""The label vocabularies of annotation rows, their validation, and an answer annotation's check labels."""

from __future__ import annotations

from typing import Any

FACT_LABELS = ("stated", "not_stated", "contradicted")
CLAIM_LABELS = ("asserted", "not_asserted")
HALLU_LABELS = ("0", "1", "2", "not_attempted")
PAIR_LABELS = ("A", "B", "tie")


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
