"""Baselines & Targets table: each target in eval/targets.yaml checked against the summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from eval.report_format import pct, pct_ci
from supportbot.stages import last_seconds

TARGETS_PATH = Path(__file__).resolve().parent / "targets.yaml"


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict) or d.get(k) is None:
            return None
        d = d[k]
    return d


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**not met**")


def targets_section(summary: dict[str, Any], targets: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """One row per target: metric, baseline (base model), measured (tuned / run), target, met."""
    t = targets or yaml.safe_load(TARGETS_PATH.read_text())
    rows: list[dict[str, str]] = []

    def row(metric: str, baseline: str, measured: str, target: str, ok: bool | None) -> None:
        rows.append({"metric": metric, "baseline": baseline, "measured": measured, "target": target, "status": _met(ok)})

    wr = _get(summary, "pairwise", "win_rate")
    ok = None if not wr or wr.get("estimate") is None else (
        wr["estimate"] >= t["win_rate_min"] and (wr.get("ci_low") or 0) > t["win_rate_ci_low_min"])
    row("Win rate of tuned vs base (judge)", "50.0 % (base vs itself)", pct_ci(wr),
        f">= {pct(t['win_rate_min'])}, CI low > {pct(t['win_rate_ci_low_min'])}", ok)

    models = _get(summary, "hallucination", "models") or {}
    diff = _get(summary, "hallucination", "difference_base_minus_tuned", "overall")
    ok = None if not diff or diff.get("estimate") is None else (
        diff["estimate"] >= t["hallucination_drop_min"] and (diff.get("ci_low") or 0) > 0)
    row("Hallucination rate, overall (judge)", pct_ci(_get(models, "base", "hallucination_rate_overall")),
        pct_ci(_get(models, "tuned", "hallucination_rate_overall")) + f"; base − tuned {pct_ci(diff)}",
        f"base − tuned >= {pct(t['hallucination_drop_min'])}, paired CI > 0", ok)

    lm = _get(summary, "lm_eval", "models") or {}
    b, c = _get(lm, "base", "bits_per_byte"), _get(lm, "tuned", "bits_per_byte")
    row("Reference bits/byte (lm-eval, judge-free)", "n/a" if b is None else f"{b:.3f}", "n/a" if c is None else f"{c:.3f}",
        "tuned < base", None if b is None or c is None else b - c > t["bits_per_byte_drop_min"])

    kh, kp = _get(summary, "calibration", "hallucination", "kappa"), _get(summary, "calibration", "pairwise", "kappa")
    row("Judge agreement with the labels (Cohen's κ)", "", "n/a" if kh is None or kp is None
        else f"hallucination {kh:.2f}, pairwise {kp:.2f}", f">= {t['judge_kappa_min']:.2f} on both",
        None if kh is None or kp is None else min(kh, kp) >= t["judge_kappa_min"])

    beh = summary.get("behaviour") or {}
    bb, bt, bd = beh.get("base") or {}, beh.get("tuned") or {}, _get(beh, "differences", "tuned_minus_base") or {}
    if bb and bt:
        esc = bt.get("escalation_rate_unanswerable")
        row("Escalates on unanswerable items (judge-free)", pct(bb.get("escalation_rate_unanswerable")), pct(esc),
            f">= {pct(t['escalation_unanswerable_min'])}", None if esc is None else esc >= t["escalation_unanswerable_min"])
        lb, lt = bb.get("loop_rate"), bt.get("loop_rate")
        row("Loop rate (judge-free)", pct(lb), pct(lt), f"<= {t['loop_rate_max_ratio']:.1f} × base",
            None if lb is None or lt is None else lt <= t["loop_rate_max_ratio"] * lb)
        kb, kt = _get(bb, "key_fact_recall", "product"), _get(bt, "key_fact_recall", "product")
        dk = bd.get("key_fact_recall_product") or {}
        row("Key-fact recall, product items (judge-free)", pct(kb), pct(kt) + f"; tuned − base {pct_ci(dk)}",
            f">= {t['product_recall_min_ratio']:.0f} × base, paired CI low > 0",
            None if kb is None or kt is None or dk.get("ci_low") is None
            else kt >= t["product_recall_min_ratio"] * max(kb, 0.01) and dk["ci_low"] > 0)
        ib, it_ = _get(bb, "key_fact_recall", "it"), _get(bt, "key_fact_recall", "it")
        di = bd.get("key_fact_recall_it") or {}
        row("Key-fact recall, IT items (judge-free; forgetting)", pct(ib), pct(it_) + f"; tuned − base {pct_ci(di)}",
            "tuned >= base", None if ib is None or it_ is None else it_ - ib >= t["it_recall_min_diff"])

    wall, cost = _get(summary, "training", "wall_time_s"), _get(summary, "training", "cost", "usd")
    bf16 = _get(summary, "training", "precision") == "bf16"
    limit = t["train_wall_s_max"] if bf16 else t.get("train_wall_s_max_fp32", t["train_wall_s_max"])
    row(f"Training wall time (CPU default, 2 cores, {'bf16' if bf16 else 'fp32'})", "", "n/a" if wall is None else f"{wall:.0f} s",
        f"<= {limit} s", None if wall is None else wall <= limit)
    row("Training cost (estimated)", "", "n/a" if cost is None else f"${cost:.4f}", f"<= ${t['train_cost_usd_max']}",
        None if cost is None else cost <= t["train_cost_usd_max"])
    sp = _get(summary, "throughput", "speedup", "vllm_concurrent_over_single")
    row("vLLM throughput, 16 concurrent / 1 request", "", "n/a" if sp is None else f"{sp:.2f}×",
        f">= {t['vllm_speedup_min']:.0f}×", None if sp is None else sp >= t["vllm_speedup_min"])
    gen = next((s for s in _get(summary, "pipeline_timing", "stages") or [] if s.get("stage") == "generate"), None)
    gs = None if gen is None else last_seconds(gen)
    row("Generate stage, last run (the arms it answered, server starts included)", "", "n/a" if gs is None else f"{gs:.0f} s",
        f"<= {t['generate_s_max']} s", None if gs is None or _get(summary, "pipeline_timing", "quick") else gs <= t["generate_s_max"])
    pw = _get(summary, "pipeline_timing", "full_run_seconds") or _get(summary, "pipeline_timing", "wall_seconds")
    quick = _get(summary, "pipeline_timing", "quick")
    cached = bool(_get(summary, "pipeline_timing", "judge_from_cache"))  # set by eval/report.py
    measured = "n/a" if pw is None else f"{pw:.0f} s" + (" (judge answered from its cache)" if cached else "")
    row("Pipeline time, all stages" + (" (--quick)" if quick else "" if cached else ", from empty caches"), "", measured,
        f"<= {t['pipeline_wall_s_max']} s", None if pw is None or quick or cached else pw <= t["pipeline_wall_s_max"])
    fc = summary.get("fresh_clone")
    if fc and fc.get("total_s") is not None:
        row("`make pipeline` on a fresh clone (setup + pipeline, committed caches)", "",
            f"{fc['total_s']:.0f} s; {fc.get('judge_calls')} judge calls; outcomes "
            + ("equal" if fc.get("outcomes_equal") else "differ"),
            f"<= {t['pipeline_wall_s_max']} s, same outcomes", fc["total_s"] <= t["pipeline_wall_s_max"] and bool(fc.get("outcomes_equal")))
    return rows


def targets_table(rows: list[dict[str, str]]) -> str:
    lines = ["| Metric | Baseline (base model) | Measured | Target | Status |", "|---|---|---|---|---|"]
    lines += [f"| {r['metric']} | {r['baseline']} | {r['measured']} | {r['target']} | {r['status']} |" for r in rows]
    return "\n".join(lines)
