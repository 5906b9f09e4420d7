"""Judge, reference-check and throughput sections of the report (from judge/run.py and bench outputs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval.report_calibration import calibration_section, calibration_table, judges_section, judges_table


def _pct(ci: dict[str, Any] | None) -> str:
    """'41.0 % [32.0, 50.0]' from a bootstrap dict (estimate, ci_low, ci_high)."""
    if not ci or ci.get("estimate") is None:
        return "n/a"
    out = f"{100 * ci['estimate']:.1f} %"
    if ci.get("ci_low") is not None and ci.get("ci_high") is not None:
        out += f" [{100 * ci['ci_low']:.1f}, {100 * ci['ci_high']:.1f}]"
    return out


def _num(x: float | None, fmt: str = ".2f") -> str:
    return "n/a" if x is None else format(x, fmt)


def pairwise_section(js: dict[str, Any]) -> dict[str, Any]:
    keep = ("baseline", "candidate", "n_pairs", "n_scored", "n_unparseable", "n_failed", "wins", "ties", "losses",
            "win_rate", "lc_win_rate", "position_consistency", "first_position_rate", "avg_length")
    p = js["pairwise"]
    return {"judge": js["judge"], "verdict_mode": js.get("verdict_mode"), "judge_mode": js.get("judge_mode", "holistic"),
            "status": js.get("status"), **{k: p.get(k) for k in keep}, "tie_margin": p.get("tie_margin")}


def pairwise_table(p: dict[str, Any]) -> str:
    lengths = p.get("avg_length") or {}
    words = ", ".join(f"{m} {_num((v or {}).get('words'), '.0f')}" for m, v in lengths.items())
    checklist = p.get("judge_mode") == "checklist"
    how = (f"checklist: each answer graded alone, tie margin {_num(p.get('tie_margin'))}" if checklist
           else f"{p['verdict_mode']} verdicts")
    rows = [
        ("Judge", f"{p['judge']} ({how}, {p['status']})"),
        ("Pairs judged / scored" if checklist else "Pairs judged (both orders) / scored", f"{p['n_pairs']} / {p['n_scored']}"
         + (f" ({p['n_unparseable']} unparseable, {p['n_failed']} failed)" if p['n_unparseable'] or p['n_failed'] else "")),
        (f"{p['candidate']} wins / ties / losses", f"{p['wins']} / {p['ties']} / {p['losses']}"),
        ("Win rate of tuned, (W + T/2)/N [95 % CI]", _pct(p["win_rate"])),
        ("Length-controlled win rate [95 % CI]", _pct(p.get("lc_win_rate"))),
        ("Position consistency (same verdict in both orders)",
         "not applicable (no A/B order)" if checklist else _num(p.get("position_consistency"), ".1%")),
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
        lines.append(f"| {name} | {_pct(m['attempted_rate'])} | {_pct(m['hallucination_rate_attempted'])} | "
                     f"{_pct(m['hallucination_rate_overall'])} | {_pct(m.get('corrected_overall_rate'))} | "
                     f"{_pct(m['severe_rate'])} | {_num(esc, '.0%')} of {un.get('n', 0)} |")
    d = h.get("difference_base_minus_tuned") or {}
    if d:
        lines.append(f"| base − tuned (paired) | | {_pct(d.get('attempted'))} | {_pct(d.get('overall'))} | | "
                     f"{_pct(d.get('severe'))} | |")
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


def throughput_section(b: dict[str, Any]) -> dict[str, Any]:
    return {"model_dir": b["model_dir"], "n_prompts": b["n_prompts"], "max_tokens": b["max_tokens"],
            "quick": b.get("quick"), "results": [{k: r.get(k) for k in ("engine", "mode", "tokens_per_s", "mean_latency_s")}
                                                 for r in b["results"]], "speedup": b.get("speedup"),
            "loadavg_start": b.get("loadavg_start")}


def throughput_table(t: dict[str, Any]) -> str:
    lines = [f"{t['n_prompts']} prompts × {t['max_tokens']} tokens, greedy, {t['model_dir']}:", "",
             "| Engine | Mode | tokens/s | mean latency (s) |", "|---|---|---|---|"]
    lines += [f"| {r['engine']} | {r['mode']} | {_num(r['tokens_per_s'], '.1f')} | {_num(r['mean_latency_s'], '.1f')} |"
              for r in t["results"]]
    sp = t.get("speedup") or {}
    lines += ["", "Speed-ups measured in the same run: " + ", ".join(f"{k} {v}×" for k, v in sp.items() if v)]
    return "\n".join(lines)


def serve_memory_section(b: dict[str, Any]) -> dict[str, Any]:
    return {"results": [{k: r.get(k) for k in ("setup", "servers", "ready_s_total", "rss_gib_total")} for r in b["results"]],
            "rss_ratio_two_servers_over_lora": b.get("rss_ratio_two_servers_over_lora"),
            "tuned_answer_same_merged_vs_lora": b.get("tuned_answer_same_merged_vs_lora")}


def serve_memory_table(m: dict[str, Any]) -> str:
    lines = ["| Serving base + tuned | vLLM servers | ready after (s) | resident memory (GiB) |", "|---|---|---|---|"]
    lines += [f"| {r['setup']} | {r['servers']} | {_num(r['ready_s_total'], '.0f')} | {_num(r['rss_gib_total'])} |"
              for r in m["results"]]
    lines += ["", f"Two servers use {m['rss_ratio_two_servers_over_lora']}× the memory of one server with a LoRA module; "
              f"the tuned answer is {'identical' if m['tuned_answer_same_merged_vs_lora'] else 'different'} "
              "(merged vs LoRA, greedy)."]
    return "\n".join(lines)


def train_bench_section(b: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "precision", "tokens", "seconds", "tokens_per_s", "steady_tokens_per_s")
    return {"command": b.get("command"), "runs": [{k: r.get(k) for k in keys} for r in b["runs"]],
            "ratios": b.get("ratios"), "target": b.get("target"), "settings": b.get("settings"),
            "native_bf16": b.get("native_bf16"), "cpu_model": (b.get("hardware") or {}).get("cpu_model")}


def train_bench_table(t: dict[str, Any]) -> str:
    lines = ["| Training loop | precision | tokens | seconds | tokens/s | steady tokens/s (after step 1) |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['name']} | {r.get('precision')} | {r['tokens']} | {_num(r['seconds'], '.1f')} | {_num(r['tokens_per_s'], '.1f')} | "
              f"{_num(r.get('steady_tokens_per_s'), '.1f')} |" for r in t["runs"]]
    ratios = (t.get("ratios") or {}).get("steady_tokens_per_s") or {}
    whole = (t.get("ratios") or {}).get("tokens_per_s") or {}
    lines += ["", "| Ratio (same run) | steady | whole loop |", "|---|---|---|"]
    lines += [f"| {k} | {_num(v, '.2f')}× | {_num(whole.get(k), '.2f')}× |" for k, v in ratios.items()]
    s = t.get("settings") or {}
    nb = (t.get("native_bf16") or {})
    lines += ["", f"`{t.get('command')}` on {t.get('cpu_model')} (native bf16: {', '.join(nb.get('flags') or []) or 'none'}); "
              f"same {s.get('rows')} rows, {s.get('steps')} optimizer steps, LoRA r={s.get('lora_r')}, {s.get('threads')} threads; "
              f"target: {t.get('target')}."]
    return "\n".join(lines)


def vllm_bind_section(b: dict[str, Any]) -> dict[str, Any]:
    return {"command": b["command"].strip(), "model_dir": b["model_dir"], "median": b["median"],
            "ratio_all_over_auto": b["ratio_all_over_auto"],
            "bind": {r["setting"]: r.get("omp_threads_bind") for r in b["rows"]},
            "rounds": sum(r["setting"] == "auto" for r in b["rows"])}


def _bench_label(key: str) -> str:
    """'decode_tok_s_8_concurrent' -> 'decode tok/s, 8 concurrent'."""
    head, _, rest = key.partition("_tok_s")
    return f"{head} tok/s, " + (rest.strip("_").replace("_", " ").replace("single", "1 request") or "1 request")


def vllm_bind_table(v: dict[str, Any]) -> str:
    keys = list(v["ratio_all_over_auto"])
    lines = [f"`{v['command']}`: {v['model_dir']} (the CPU judge), --enforce-eager, medians of {v['rounds']} "
             "alternating round(s):", "",
             "| OpenMP binding | " + " | ".join(map(_bench_label, keys)) + " |", "|---|" + "---|" * len(keys)]
    labels = {"auto": "vLLM default (one core kept for the scheduler)", "all": f"all cores ({v['bind'].get('all')})"}
    lines += [f"| {labels.get(name, name)} | " + " | ".join(_num(m.get(k), ".1f") for k in keys) + " |"
              for name, m in v["median"].items()]
    lines += ["| ratio all / default | " + " | ".join(f"{_num(v['ratio_all_over_auto'][k])}×" for k in keys) + " |"]
    return "\n".join(lines)


def generate_modes_section(b: dict[str, Any]) -> dict[str, Any]:
    return {"command": b["command"].strip(), "limit": b["limit"], "model_dir": b["model_dir"], "rows": b["rows"]}


def generate_modes_table(g: dict[str, Any]) -> str:
    lines = [f"`{g['command']}`: {g['model_dir']}, first {g['limit']} eval questions (eval/generate.py), one run:", "",
             "| Setting | binding | eager | in flight | start-up (s) | answering (s) | tokens/s | stage speed-up | same answers |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['setting']} | {r['omp_threads_bind']} | {'yes' if r['enforce_eager'] else 'no'} | {r['concurrency']} | "
              f"{_num(r['start_s'], '.0f')} | {_num(r['answer_s'], '.0f')} | {_num(r['tok_s'], '.1f')} | "
              f"{_num(r['stage_ratio_vs_first'])}× | {r['answers_identical_to_first']}/{g['limit']} |" for r in g["rows"]]
    return "\n".join(lines)


def fresh_clone_section(b: dict[str, Any]) -> dict[str, Any]:
    keep = ("command", "commit", "reuse_envs", "setup_s", "pipeline_s", "total_s", "stages", "judge_calls", "judge_cache_hits",
            "answers_reused", "outcomes_equal", "finished_at", "recompared_at")
    return {**{k: b.get(k) for k in keep}, "n_outcome_differences": len(b.get("outcome_differences") or [])}


def fresh_clone_table(f: dict[str, Any]) -> str:
    stages = ", ".join(f"{s['stage']} {_num(s['seconds'], '.0f')}" for s in f.get("stages") or [])
    lines = ["| Fresh clone of the repository, `make pipeline` | |", "|---|---|",
             f"| Measured by | `{str(f.get('command')).strip()}`"
             + (" (differences recomputed from the kept clone with `--recompare`)" if f.get("recompared_at") else "") + " |",
             f"| Commit | {str(f.get('commit'))[:12]} |",
             f"| Setup (`make setup`{', environments linked' if f.get('reuse_envs') else ''}) | {_num(f.get('setup_s'), '.0f')} s |",
             f"| Pipeline (`python scripts/run_pipeline.py`) | {_num(f.get('pipeline_s'), '.0f')} s ({stages}) |",
             f"| Total | {_num(f.get('total_s'), '.0f')} s ({_num((f.get('total_s') or 0) / 60, '.1f')} min) |",
             f"| Judge calls / answered from the committed cache | {f.get('judge_calls')} / {f.get('judge_cache_hits')} |",
             f"| Answers reused (same weights sha256) | {len(f.get('answers_reused') or [])} of 2 files |",
             f"| Outcome numbers equal to the committed results | {'yes' if f.get('outcomes_equal') else 'no'} "
             f"({f.get('n_outcome_differences')} differences) |"]
    return "\n".join(lines)


JUDGE_SECTIONS: dict[str, tuple[str, Any]] = {
    "pairwise": ("judge_summary.json", pairwise_section),
    "hallucination": ("judge_summary.json", hallucination_section),
    "calibration": ("calibration.json", calibration_section),
    "judges": ("judge_comparison.json", judges_section),
    "reference_check": ("reference_check.json", reference_section),
    "judge_usage": ("judge_summary.json", lambda js: js.get("judge_usage")),
    "throughput": ("bench_generate.json", throughput_section),
    "serve_memory": ("bench_serve_memory.json", serve_memory_section),
    "train_bench": ("bench_train.json", train_bench_section),
    "vllm_bind": ("bench_vllm_bind.json", vllm_bind_section),
    "generate_modes": ("bench_generate_modes.json", generate_modes_section),
    "fresh_clone": ("fresh_clone_check.json", fresh_clone_section),
}
JUDGE_TABLES: dict[str, Any] = {"pairwise": pairwise_table, "hallucination": hallucination_table,
                                "calibration": calibration_table, "judges": judges_table, "reference_check": reference_table,
                                "throughput": throughput_table, "serve_memory": serve_memory_table,
                                "train_bench": train_bench_table, "vllm_bind": vllm_bind_table,
                                "generate_modes": generate_modes_table, "fresh_clone": fresh_clone_table}


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
