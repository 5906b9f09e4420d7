"""Calibration sections of the report: the default judge's agreement with the labels, and the judge comparison."""

from __future__ import annotations

from typing import Any

from eval.report_format import num


def calibration_section(c: dict[str, Any]) -> dict[str, Any]:
    """The summary entry of results/calibration.json (a holistic judge's or a checklist judge's layout)."""
    h, p = c.get("hallucination") or {}, c.get("pairwise") or {}
    if c.get("judge_mode") == "checklist":
        return {"judge": c.get("judge"), "judge_mode": "checklist", "verdict_mode": c.get("verdict_mode"),
                "calibrated": c.get("calibrated"), "kappa_min": c.get("kappa_min"), "split": c.get("split"),
                "checklist": c.get("checklist"),
                "hallucination": {k: h.get(k) for k in ("n", "positives", "auc", "accuracy", "kappa", "sensitivity",
                                                        "specificity", "threshold", "out_of_fold")},
                "pairwise": {k: p.get(k) for k in ("n", "accuracy", "kappa", "clear_winner_pairs", "clear_winner_agreement",
                                                   "threshold", "out_of_fold")},
                "annotators": c.get("annotators"), "labels": c.get("labels")}
    hb = h.get("binary") or {}
    return {"judge": c.get("judge"), "judge_mode": "holistic", "verdict_mode": c.get("verdict_mode"),
            "calibrated": c.get("calibrated"), "kappa_min": c.get("kappa_min"),
            "hallucination": {k: hb.get(k) for k in ("n", "accuracy", "kappa", "macro_f1", "sensitivity", "specificity")}
            | {"four_class_kappa": (h.get("four_class") or {}).get("kappa"), "threshold": h.get("threshold")},
            "pairwise": {k: p.get(k) for k in ("n_scored", "accuracy", "kappa", "macro_f1", "position_consistency",
                                               "first_position_rate")} | {"decisive_only": p.get("decisive_only")}}


def _flag(c: dict[str, Any]) -> str:
    cal = c.get("calibrated") or {}
    if cal and all(cal.values()):
        return "calibrated"
    bad = ", ".join(k for k, ok in cal.items() if not ok)
    return f"**uncalibrated** ({bad}: κ below {c.get('kappa_min')})"


def calibration_table(c: dict[str, Any]) -> str:
    h, p = c["hallucination"], c["pairwise"]
    if c.get("judge_mode") == "checklist":
        ck, ann = c.get("checklist") or {}, c.get("annotators") or {}
        asked = {k: v for k, v in (ck.get("by_kind") or {}).items() if v.get("n")}  # probes the questions file asks
        kinds = ", ".join(f"{k} {num(v.get('auc'))} (n={v.get('n')})" for k, v in asked.items())
        lines = ["| Task (test split, out-of-fold) | n | Judge vs labels | Accuracy | Annotator vs annotator κ | Other |",
                 "|---|---|---|---|---|---|",
                 f"| Checks ({' / '.join(asked) or 'none'}) | {ck.get('n')} | AUC {num(ck.get('auc'))} | | "
                 f"{num((ann.get('checks') or {}).get('kappa'))} | {kinds} |",
                 f"| Hallucination (yes/no) | {h.get('n')} | κ {num(h.get('kappa'))} | {num(h.get('accuracy'), '.1%')} | "
                 f"{num((ann.get('hallucination') or {}).get('kappa'))} (4-class) | AUC {num(h.get('auc'))}; sensitivity "
                 f"{num(h.get('sensitivity'), '.1%')}, specificity {num(h.get('specificity'), '.1%')} |",
                 f"| Pairwise (A/B/tie) | {p.get('n')} | κ {num(p.get('kappa'))} | {num(p.get('accuracy'), '.1%')} | "
                 f"{num((ann.get('pairwise') or {}).get('kappa'))} | clear-winner agreement "
                 f"{num(p.get('clear_winner_agreement'), '.1%')} (n={p.get('clear_winner_pairs')}) |",
                 "", f"Judge {c.get('judge')} (checklist, {c.get('verdict_mode')} verdicts): {_flag(c)}. "
                 f"Labels: {c.get('labels')}. Threshold and tie margin are chosen on the other folds (5-fold) of the "
                 "rows they are scored on."]
        return "\n".join(lines)
    dec = p.get("decisive_only") or {}
    lines = ["| Task | n | Accuracy | Cohen's κ | Macro-F1 | Other |", "|---|---|---|---|---|---|",
             f"| Hallucination (yes/no) | {h.get('n')} | {num(h.get('accuracy'), '.1%')} | {num(h.get('kappa'))} | "
             f"{num(h.get('macro_f1'))} | sensitivity {num(h.get('sensitivity'), '.1%')}, specificity "
             f"{num(h.get('specificity'), '.1%')} |",
             f"| Pairwise (A/B/tie) | {p.get('n_scored')} | {num(p.get('accuracy'), '.1%')} | {num(p.get('kappa'))} | "
             f"{num(p.get('macro_f1'))} | decisive-only accuracy {num(dec.get('accuracy'), '.1%')} (n={dec.get('n')}); "
             f"position consistency {num(p.get('position_consistency'), '.1%')} |"]
    lines += ["", f"Judge {c.get('judge')} ({c.get('verdict_mode')} verdicts): {_flag(c)}."]
    return "\n".join(lines)


def judges_section(j: dict[str, Any]) -> dict[str, Any]:
    return {"default": j.get("default"), "rule": j.get("rule"), "split": j.get("split"), "judges": j.get("judges"),
            "command": j.get("command")}


def judges_table(j: dict[str, Any]) -> str:
    from supportbot.judge.compare import table

    return table(j["judges"], j.get("default")) + f"\n\nDefault rule: {j.get('rule')}. Command: `{str(j.get('command')).strip()}`."
