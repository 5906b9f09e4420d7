"""Judge and reference-check sections of the report (from judge/run.py and src/supportbot/judge/reference/check.py outputs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval.report_calibration import calibration_section, calibration_table, judges_section, judges_table
from eval.report_format import num, pct_ci


def pairwise_section(js: dict[str, Any]) -> dict[str, Any]:
    keep = ("baseline", "candidate", "n_pairs", "n_scored", "n_unparseable", "n_failed", "wins", "ties", "losses",
            "win_rate", "lc_win_rate", "position_consistency", "first_position_rate", "avg_length")
    p = js["pairwise"]
    return {"judge": js["judge"], "verdict_mode": js.get("verdict_mode"), "judge_mode": js.get("judge_mode", "holistic"),
            "status": js.get("status"), **{k: p.get(k) for k in keep}, "tie_margin": p.get("tie_margin")}


def pairwise_table(p: dict[str, Any]) -> str:
    lengths = p.get("avg_length") or {}
    words = ", ".join(f"{m} {num((v or {}).get('words'), '.0f')}" for m, v in lengths.items())
    checklist = p.get("judge_mode") == "checklist"
    how = (f"checklist: each answer graded alone, tie margin {num(p.get('tie_margin'))}" if checklist
           else f"{p['verdict_mode']} verdicts")
    rows = [
        ("Judge", f"{p['judge']} ({how}, {p['status']})"),
        ("Pairs judged / scored" if checklist else "Pairs judged (both orders) / scored", f"{p['n_pairs']} / {p['n_scored']}"
         + (f" ({p['n_unparseable']} unparseable, {p['n_failed']} failed)" if p['n_unparseable'] or p['n_failed'] else "")),
        (f"{p['candidate']} wins / ties / losses", f"{p['wins']} / {p['ties']} / {p['losses']}"),
        ("Win rate of tuned, (W + T/2)/N [95 % CI]", pct_ci(p["win_rate"])),
        ("Length-controlled win rate [95 % CI]", pct_ci(p.get("lc_win_rate"))),
        ("Position consistency (same verdict in both orders)",
         "not applicable (no A/B order)" if checklist else num(p.get("position_consistency"), ".1%")),
        ("Average answer length (words)", words or "n/a"),
    ]
    return "| Pairwise | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)


def hallucination_section(js: dict[str, Any]) -> dict[str, Any]:
    h = js["hallucination"]
    out: dict[str, Any] = {"judge": js["judge"], "judge_mode": js.get("judge_mode", "holistic"), "status": js.get("status"),
                           "models": {}}
    for name, m in h["models"].items():
        out["models"][name] = {k: m.get(k) for k in ("n", "n_scored", "attempted_rate", "hallucination_rate_attempted",
                                                     "hallucination_rate_overall", "severe_rate", "unanswerable")}
        out["models"][name]["corrected_overall_rate"] = (h.get("corrected_overall_rate") or {}).get(name)
    out["difference_base_minus_tuned"] = h.get("difference_base_minus_tuned")
    return out


def hallucination_table(h: dict[str, Any]) -> str:
    lines = ["| Model | Attempted | Hallucination (attempted) | Hallucination (overall) | Corrected overall (Rogan–Gladen) "
             "| Severe (label 2) | Unanswerable: escalated |", "|---|---|---|---|---|---|---|"]
    for name, m in h["models"].items():
        un = m.get("unanswerable") or {}
        esc = un.get("correct_escalation_rate")
        lines.append(f"| {name} | {pct_ci(m['attempted_rate'])} | {pct_ci(m['hallucination_rate_attempted'])} | "
                     f"{pct_ci(m['hallucination_rate_overall'])} | {pct_ci(m.get('corrected_overall_rate'))} | "
                     f"{pct_ci(m['severe_rate'])} | {num(esc, '.0%')} of {un.get('n', 0)} |")
    d = h.get("difference_base_minus_tuned") or {}
    if d:
        lines.append(f"| base − tuned (paired) | | {pct_ci(d.get('attempted'))} | {pct_ci(d.get('overall'))} | | "
                     f"{pct_ci(d.get('severe'))} | |")
    lines.append("")
    where = ("on the test split of label set v2, out-of-fold" if h.get("judge_mode") == "checklist"
             else "on the manual rubric set")
    note = (" The checklist judge does not separate minor from severe hallucinations, nor grade 'not attempted' on "
            "answerable items (n/a)." if h.get("judge_mode") == "checklist" else "")
    lines.append(f"Judge: {h['judge']} ({h['status']}). Corrected rates use the judge's sensitivity and specificity "
                 f"measured {where}.{note}")
    return "\n".join(lines)


def reference_section(r: dict[str, Any]) -> dict[str, Any]:
    return {"models": r["models"], "thresholds": r.get("thresholds")}


def reference_table(r: dict[str, Any]) -> str:
    def ci(s: dict[str, Any]) -> str:
        if not s or s.get("mean") is None:
            return "n/a"
        lo_hi = s.get("ci95")
        return f"{s['mean']:.3f}" + (f" [{lo_hi[0]:.3f}, {lo_hi[1]:.3f}]" if lo_hi else "")
    lines = ["| Model | Key-fact recall | Forbidden-claim hit rate | Similarity to reference |", "|---|---|---|---|"]
    for name, m in r["models"].items():
        lines.append(f"| {name} | {ci(m['key_fact_recall'])} | {ci(m['forbidden_hit_rate'])} | {ci(m['reference_similarity'])} |")
    return "\n".join(lines)


# section name -> (result file in the results folder, function turning it into the summary entry)
SECTIONS: dict[str, tuple[str, Any]] = {
    "pairwise": ("judge_summary.json", pairwise_section),
    "hallucination": ("judge_summary.json", hallucination_section),
    "calibration": ("calibration.json", calibration_section),
    "judges": ("judge_comparison.json", judges_section),
    "reference_check": ("reference_check.json", reference_section),
    "judge_usage": ("judge_summary.json", lambda js: js.get("judge_usage")),
}
TABLES: dict[str, Any] = {"pairwise": pairwise_table, "hallucination": hallucination_table,
                          "calibration": calibration_table, "judges": judges_table, "reference_check": reference_table}


def judge_plots(summary: dict[str, Any], plots: Path) -> None:
    """Win rate with CI and hallucination rates (raw and corrected) with CIs, as PNGs."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def bar(ax, labels: list[str], cis: list[dict[str, Any] | None]) -> None:
        est = [100 * (c or {}).get("estimate", 0) if c and c.get("estimate") is not None else 0 for c in cis]
        lo = [e - 100 * c["ci_low"] if c and c.get("ci_low") is not None else 0 for e, c in zip(est, cis, strict=True)]
        hi = [100 * c["ci_high"] - e if c and c.get("ci_high") is not None else 0 for e, c in zip(est, cis, strict=True)]
        ax.bar(labels, est, yerr=[lo, hi], capsize=4)

    if "pairwise" in summary:
        p = summary["pairwise"]
        fig, ax = plt.subplots(figsize=(4.5, 3.5))
        bar(ax, ["raw", "length-controlled"], [p["win_rate"], p.get("lc_win_rate")])
        ax.axhline(50, color="grey", linestyle="--", linewidth=1)
        ax.set_ylim(0, 100)
        ax.set_ylabel("tuned win rate vs base (%)")
        ax.set_title("Pairwise win rate, 95 % CI")
        fig.tight_layout()
        fig.savefig(plots / "win_rate.png", dpi=120)
        plt.close(fig)
    if "hallucination" in summary:
        h = summary["hallucination"]["models"]
        fig, ax = plt.subplots(figsize=(6, 3.5))
        labels, cis = [], []
        for name, m in h.items():
            labels += [f"{name}\nraw", f"{name}\ncorrected"]
            cis += [m["hallucination_rate_overall"], m.get("corrected_overall_rate")]
        bar(ax, labels, cis)
        ax.set_ylim(0, 100)
        ax.set_ylabel("hallucination rate (%)")
        ax.set_title("Hallucination rate (overall), 95 % CI")
        fig.tight_layout()
        fig.savefig(plots / "hallucination.png", dpi=120)
        plt.close(fig)
