"""The arms table: base, tuned, base + KB, tuned + KB side by side, same judge, same statistics.

Reads, in a results folder: ``judge_summary.json`` (tuned vs base) and ``arms/<arm>/judge_summary.json`` (each
retrieval arm vs base, `scripts/run_pipeline.py` stage ``judge_<arm>``), their per-item judgment records
(``[arms/<arm>/]judgments/{pairwise,hallucination}-<judge>.jsonl``), ``behaviour.json`` and ``data/eval.jsonl``
(for the item domains). Writes ``summary["arms"]``: per arm the win rate against base with its bootstrap CI,
W/T/L, the hallucination rate with its CI, the judge-free behaviour estimates, and the same split by domain.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from eval.report_format import load_json, pct_ci
from supportbot.arms import ARMS, judge_results_dir
from supportbot.jsonl import iter_jsonl
from supportbot.judge.labels import CHECKLIST_CLEAN, CHECKLIST_HALLUCINATED
from supportbot.paths import DATA_DIR
from supportbot.stats import bootstrap_ci

WIN_SCORE = {"candidate": 1.0, "tie": 0.5, "baseline": 0.0}
BEHAVIOUR_KEYS = ("loop_rate", "escalation_rate_unanswerable", "question_rate", "key_fact_recall_product",
                  "key_fact_recall_it", "max_tokens_rate")


def _domains(eval_file: Path) -> dict[str, str]:
    return {str(row["id"]): str(row.get("domain")) for _, row in iter_jsonl(eval_file)}


def _outcomes(records: Path, candidate: str) -> dict[str, float]:
    """Item id -> 1 (candidate wins), 0.5 (tie), 0 (base wins); unscored records are left out (and counted upstream)."""
    out: dict[str, float] = {}
    for _, r in iter_jsonl(records):
        w = r.get("winner_model")
        if w in (candidate, "tie") or w == r.get("baseline"):
            out[str(r["id"])] = WIN_SCORE["candidate" if w == candidate else "tie" if w == "tie" else "baseline"]
    return out


def _hallucinated(records: Path, model: str) -> dict[str, float]:
    return {str(r["id"]): float(r["verdict"] == CHECKLIST_HALLUCINATED) for _, r in iter_jsonl(records)
            if r.get("model") == model and r.get("verdict") in (CHECKLIST_HALLUCINATED, CHECKLIST_CLEAN)}


def _ci(values: list[float]) -> dict[str, Any]:
    c = bootstrap_ci(values)
    return {k: c[k] for k in ("estimate", "ci_low", "ci_high", "n")}


def _by_domain(values: dict[str, float], domains: dict[str, str]) -> dict[str, dict[str, Any]]:
    split: dict[str, list[float]] = defaultdict(list)
    for item, v in values.items():
        split[domains.get(item, "unknown")].append(v)
    return {d: _ci(v) for d, v in sorted(split.items())}


def arms_section(results: Path, eval_file: Path = DATA_DIR / "eval.jsonl") -> dict[str, dict[str, Any]] | None:
    """``arms.<name>.{win_rate_vs_base, hallucination_rate_overall, behaviour, by_domain, ...}``; None without results."""
    main = load_json(results / "judge_summary.json")
    if main is None:
        return None
    judge = main["judge"]
    behaviour = (load_json(results / "behaviour.json") or {}).get("models", {})
    domains = _domains(eval_file)
    out: dict[str, Any] = {}
    for name, arm in ARMS.items():
        d = judge_results_dir(results, name)
        summ = main if name in ("base", "tuned") else load_json(d / "judge_summary.json")
        if summ is None:
            continue
        hall = _hallucinated(d / "judgments" / f"hallucination-{judge}.jsonl", name)
        entry: dict[str, Any] = {"weights": arm.weights, "kb": arm.kb,
                                 "hallucination_rate_overall": _ci(list(hall.values())),
                                 "behaviour": {k: (behaviour.get(name, {}).get(k) or {}).get("estimate")
                                               for k in BEHAVIOUR_KEYS} if name in behaviour else None,
                                 "by_domain": {dom: {"hallucination_rate": c} for dom, c in _by_domain(hall, domains).items()}}
        if name == "base":
            entry["win_rate_vs_base"] = None  # the reference itself
        else:
            p = summ["pairwise"]
            wins = _outcomes(d / "judgments" / f"pairwise-{judge}.jsonl", name)
            entry.update(win_rate_vs_base={k: p["win_rate"][k] for k in ("estimate", "ci_low", "ci_high", "n")},
                         wins=p["wins"], ties=p["ties"], losses=p["losses"])
            for dom, c in _by_domain(wins, domains).items():
                entry["by_domain"].setdefault(dom, {})["win_rate_vs_base"] = c
        entry["judge"] = judge
        entry["judge_summary"] = str((d / "judge_summary.json").relative_to(results))
        out[name] = entry
    return out or None


def arms_table(arms: dict[str, dict[str, Any]]) -> str:
    """One row per arm: win rate vs base overall and by domain, hallucination rate, behaviour."""
    head = ("| Arm | Win rate vs base (W/T/L) | … product items | … IT items | Hallucination rate | … product | … IT "
            "| Key-fact recall product | Escalates on unanswerable | Loops |")
    lines = [head, "|---" * 10 + "|"]
    for name, a in arms.items():
        dom = a["by_domain"]
        wtl = f" ({a['wins']}/{a['ties']}/{a['losses']})" if a.get("wins") is not None else ""
        b = a.get("behaviour") or {}

        def rate(k: str, b: dict[str, Any] = b) -> str:
            return "–" if b.get(k) is None else f"{100 * b[k]:.0f} %"

        lines.append(f"| {name} | {pct_ci(a['win_rate_vs_base']) if a['win_rate_vs_base'] else 'reference'}{wtl} "
                     f"| {pct_ci(dom.get('product', {}).get('win_rate_vs_base'))} | {pct_ci(dom.get('it', {}).get('win_rate_vs_base'))} "
                     f"| {pct_ci(a['hallucination_rate_overall'])} | {pct_ci(dom.get('product', {}).get('hallucination_rate'))} "
                     f"| {pct_ci(dom.get('it', {}).get('hallucination_rate'))} | {rate('key_fact_recall_product')} "
                     f"| {rate('escalation_rate_unanswerable')} | {rate('loop_rate')} |")
    return "\n".join(lines)


def plot_arms(arms: dict[str, dict[str, Any]], out: Path) -> None:
    """Win rate vs base and hallucination rate per arm, 95 % CIs."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, key, title in ((axes[0], "win_rate_vs_base", "win rate vs base (%)"),
                           (axes[1], "hallucination_rate_overall", "hallucination rate (%)")):
        names = [n for n, a in arms.items() if a.get(key)]
        est = [100 * arms[n][key]["estimate"] for n in names]
        err = [[e - 100 * arms[n][key]["ci_low"] for n, e in zip(names, est, strict=True)],
               [100 * arms[n][key]["ci_high"] - e for n, e in zip(names, est, strict=True)]]
        ax.bar(names, est, yerr=err, capsize=4)
        ax.set_ylim(0, 100)
        ax.set_title(title)
        if key == "win_rate_vs_base":
            ax.axhline(50, color="grey", linestyle="--", linewidth=1)
    fig.suptitle(f"Arms, same judge ({next(iter(arms.values()))['judge']}), 95 % bootstrap CIs")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
