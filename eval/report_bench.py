"""Benchmark and fresh-clone sections of the report (from the scripts/bench_*.py and check_fresh_clone outputs)."""

from __future__ import annotations

from typing import Any

from eval.report_format import num


def throughput_section(b: dict[str, Any]) -> dict[str, Any]:
    return {"model_dir": b["model_dir"], "n_prompts": b["n_prompts"], "max_tokens": b["max_tokens"],
            "quick": b.get("quick"), "results": [{k: r.get(k) for k in ("engine", "mode", "tokens_per_s", "mean_latency_s")}
                                                 for r in b["results"]], "speedup": b.get("speedup"),
            "loadavg_start": b.get("loadavg_start")}


def throughput_table(t: dict[str, Any]) -> str:
    lines = [f"{t['n_prompts']} prompts × {t['max_tokens']} tokens, greedy, {t['model_dir']}:", "",
             "| Engine | Mode | tokens/s | mean latency (s) |", "|---|---|---|---|"]
    lines += [f"| {r['engine']} | {r['mode']} | {num(r['tokens_per_s'], '.1f')} | {num(r['mean_latency_s'], '.1f')} |"
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
    lines += [f"| {r['setup']} | {r['servers']} | {num(r['ready_s_total'], '.0f')} | {num(r['rss_gib_total'])} |"
              for r in m["results"]]
    lines += ["", f"Two servers use {m['rss_ratio_two_servers_over_lora']}× the memory of one server with a LoRA module; "
              f"the tuned answer is {'identical' if m['tuned_answer_same_merged_vs_lora'] else 'different'} "
              "(merged vs LoRA, greedy)."]
    return "\n".join(lines)


def _train_bench_entry(b: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "precision", "tokens", "seconds", "tokens_per_s", "steady_tokens_per_s", "loadavg_1min")
    return {"command": b.get("command"), "runs": [{k: r.get(k) for k in keys} for r in b["runs"]],
            "ratios": b.get("ratios"), "target": b.get("target"), "settings": b.get("settings"),
            "native_bf16": b.get("native_bf16"), "cpu_model": (b.get("hardware") or {}).get("cpu_model")}


def train_bench_section(b: dict[str, Any]) -> dict[str, Any]:
    """One entry per benchmarked Axolotl config (scripts/bench_train.py keeps ``models.<config>``)."""
    return {"models": {name: _train_bench_entry(entry) for name, entry in b["models"].items()}}


def _train_bench_entry_table(name: str, t: dict[str, Any]) -> list[str]:
    s = t.get("settings") or {}
    lines = [f"*{name}* ({s.get('base_model')}):", "",
             "| Training loop | precision | tokens | seconds | tokens/s | steady tokens/s (after step 1) |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['name']} | {r.get('precision')} | {r['tokens']} | {num(r['seconds'], '.1f')} | {num(r['tokens_per_s'], '.1f')} | "
              f"{num(r.get('steady_tokens_per_s'), '.1f')} |" for r in t["runs"]]
    ratios = (t.get("ratios") or {}).get("steady_tokens_per_s") or {}
    whole = (t.get("ratios") or {}).get("tokens_per_s") or {}
    lines += ["", "| Ratio (same run) | steady | whole loop |", "|---|---|---|"]
    lines += [f"| {k} | {num(v, '.2f')}× | {num(whole.get(k), '.2f')}× |" for k, v in ratios.items()]
    nb = (t.get("native_bf16") or {})
    loads = [x for r in t["runs"] for x in (r.get("loadavg_1min") or [])]
    load = f"; 1-minute load average {min(loads):.1f}–{max(loads):.1f} on {s.get('threads')} cores" if loads else ""
    lines += ["", f"`{t.get('command')}` on {t.get('cpu_model')} (native bf16: {', '.join(nb.get('flags') or []) or 'none'}); "
              f"same {s.get('rows')} rows, {s.get('steps')} optimizer steps, LoRA r={s.get('lora_r')}, {s.get('threads')} threads"
              f"{load}; target: {t.get('target')}."]
    return lines


def train_bench_table(t: dict[str, Any]) -> str:
    lines: list[str] = []
    for name, entry in t["models"].items():
        lines += ([""] if lines else []) + _train_bench_entry_table(name, entry)
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
    lines += [f"| {labels.get(name, name)} | " + " | ".join(num(m.get(k), ".1f") for k in keys) + " |"
              for name, m in v["median"].items()]
    lines += ["| ratio all / default | " + " | ".join(f"{num(v['ratio_all_over_auto'][k])}×" for k in keys) + " |"]
    return "\n".join(lines)


def generate_modes_section(b: dict[str, Any]) -> dict[str, Any]:
    return {"command": b["command"].strip(), "limit": b["limit"], "model_dir": b["model_dir"], "rows": b["rows"]}


def generate_modes_table(g: dict[str, Any]) -> str:
    lines = [f"`{g['command']}`: {g['model_dir']}, first {g['limit']} eval questions (eval/generate.py), one run:", "",
             "| Setting | binding | eager | in flight | start-up (s) | answering (s) | tokens/s | stage speed-up | same answers |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['setting']} | {r['omp_threads_bind']} | {'yes' if r['enforce_eager'] else 'no'} | {r['concurrency']} | "
              f"{num(r['start_s'], '.0f')} | {num(r['answer_s'], '.0f')} | {num(r['tok_s'], '.1f')} | "
              f"{num(r['stage_ratio_vs_first'])}× | {r['answers_identical_to_first']}/{g['limit']} |" for r in g["rows"]]
    return "\n".join(lines)


def fresh_clone_section(b: dict[str, Any]) -> dict[str, Any]:
    keep = ("command", "commit", "reuse_envs", "setup_s", "pipeline_s", "total_s", "stages", "judge_calls", "judge_cache_hits",
            "answers_reused", "outcomes_equal", "finished_at", "recompared_at")
    return {**{k: b.get(k) for k in keep}, "n_outcome_differences": len(b.get("outcome_differences") or [])}


def fresh_clone_table(f: dict[str, Any]) -> str:
    stages = ", ".join(f"{s['stage']} {num(s['seconds'], '.0f')}" for s in f.get("stages") or [])
    lines = ["| Fresh clone of the repository, `make pipeline` | |", "|---|---|",
             f"| Measured by | `{str(f.get('command')).strip()}`"
             + (" (differences recomputed from the kept clone with `--recompare`)" if f.get("recompared_at") else "") + " |",
             f"| Commit | {str(f.get('commit'))[:12]} |",
             f"| Setup (`make setup`{', environments linked' if f.get('reuse_envs') else ''}) | {num(f.get('setup_s'), '.0f')} s |",
             f"| Pipeline (`python scripts/run_pipeline.py`) | {num(f.get('pipeline_s'), '.0f')} s ({stages}) |",
             f"| Total | {num(f.get('total_s'), '.0f')} s ({num((f.get('total_s') or 0) / 60, '.1f')} min) |",
             f"| Judge calls / answered from the committed cache | {f.get('judge_calls')} / {f.get('judge_cache_hits')} |",
             f"| Answers reused (same weights sha256) | {len(f.get('answers_reused') or [])} of 2 files |",
             f"| Outcome numbers equal to the committed results | {'yes' if f.get('outcomes_equal') else 'no'} "
             f"({f.get('n_outcome_differences')} differences) |"]
    return "\n".join(lines)


# section name -> (result file in the results folder, function turning it into the summary entry)
BENCH_SECTIONS: dict[str, tuple[str, Any]] = {
    "throughput": ("bench_generate.json", throughput_section),
    "serve_memory": ("bench_serve_memory.json", serve_memory_section),
    "train_bench": ("bench_train.json", train_bench_section),
    "vllm_bind": ("bench_vllm_bind.json", vllm_bind_section),
    "generate_modes": ("bench_generate_modes.json", generate_modes_section),
    "fresh_clone": ("fresh_clone_check.json", fresh_clone_section),
}
BENCH_TABLES: dict[str, Any] = {"throughput": throughput_table, "serve_memory": serve_memory_table,
                                "train_bench": train_bench_table, "vllm_bind": vllm_bind_table,
                                "generate_modes": generate_modes_table, "fresh_clone": fresh_clone_table}
