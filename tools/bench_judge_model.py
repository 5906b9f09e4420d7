#!/usr/bin/env python
"""Check and time a local judge model: a greedy chat answer with transformers, then prefill/decode
speed and logprob support through an OpenAI-compatible server (vLLM).

    python tools/bench_judge_model.py hf models/qwen2.5-coder-0.5b
    scripts/serve_vllm.sh models/qwen2.5-coder-0.5b qwen-judge --port 8012 --kv-cache-gib 2
    python tools/bench_judge_model.py serve --base-url http://127.0.0.1:8012/v1 --model qwen-judge

Each subcommand merges its figures into ``results/judge_model_bench.json`` under its own key.
Serving prompts start with a random nonce so that vLLM's prefix cache cannot skip the prefill.
"""

from __future__ import annotations

import argparse
import json
import platform
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from supportbot.paths import RESULTS_DIR, load_prompt
from supportbot.provenance import write_result
from supportbot.runtime_env import apply_safe_env

OUT = RESULTS_DIR / "judge_model_bench.json"
QUESTION = "My printer says it is offline but it is plugged in. What should I do?"
# ~500 tokens of support-style context, like a judge prompt holding a reference and two answers.
CONTEXT = (
    "Reference answer: check that the printer is switched on and connected to the same network as the PC; "
    "restart the printer, the router and the PC; open Settings > Bluetooth & devices > Printers & scanners, "
    "select the printer and turn off 'Use printer offline'; if it still shows offline, remove the printer "
    "and add it again, then print a test page. Key facts: same network; restart; 'Use printer offline'; "
    "remove and re-add. Forbidden: reinstall Windows; buy a new printer. "
)


def _merge(key: str, value: dict[str, Any]) -> None:
    data = json.loads(OUT.read_text()) if OUT.is_file() else {}
    data[key] = value
    write_result(OUT, data, quiet=True)
    print(json.dumps({key: value}, indent=2))


def bench_hf(model_dir: Path, max_new_tokens: int) -> dict[str, Any]:
    """Greedy chat answer with transformers (fp32, CPU), with load time and decode speed."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    load_s = time.perf_counter() - t0
    messages = [{"role": "system", "content": load_prompt("support_system")}, {"role": "user", "content": QUESTION}]
    ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    t1 = time.perf_counter()
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False)
    gen_s = time.perf_counter() - t1
    new = out[0, ids["input_ids"].shape[1]:]
    answer = tok.decode(new, skip_special_tokens=True)
    stopped = bool(len(new) and int(new[-1]) in (model.generation_config.eos_token_id or []))
    return {"model_dir": str(model_dir), "load_s": round(load_s, 1), "prompt_tokens": int(ids["input_ids"].shape[1]),
            "new_tokens": int(len(new)), "stopped_at_eos": stopped, "generate_s": round(gen_s, 2),
            "tokens_per_s": round(len(new) / gen_s, 2), "torch_threads": torch.get_num_threads(), "answer": answer}


def _prompt(target_tokens: int) -> str:
    reps = max(1, target_tokens // 100)
    return f"[{secrets.token_hex(8)}] " + CONTEXT * reps + "\nIn one sentence: " + QUESTION


def _call(client, model: str, prompt: str, max_tokens: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    resp = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}], temperature=0, max_tokens=max_tokens,
        extra_body={"ignore_eos": True, "min_tokens": max_tokens})
    return {"s": time.perf_counter() - t0, "prompt": resp.usage.prompt_tokens, "completion": resp.usage.completion_tokens}


def _batch(client, model: str, n: int, target_tokens: int, max_tokens: int) -> dict[str, float]:
    prompts = [_prompt(target_tokens) for _ in range(n)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        rows = list(pool.map(lambda p: _call(client, model, p, max_tokens), prompts))
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "prompt_tokens": sum(r["prompt"] for r in rows),
            "completion_tokens": sum(r["completion"] for r in rows)}


def bench_serve(base_url: str, model: str, target_tokens: int, decode_tokens: int, concurrency: list[int]) -> dict:
    """Prefill: requests with max_tokens=1; decode: (extra tokens) / (extra wall time) of max_tokens=N runs."""
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key="EMPTY", timeout=600)
    _call(client, model, _prompt(64), 4)  # warm-up
    result: dict[str, Any] = {"base_url": base_url, "model": model, "decode_tokens": decode_tokens}
    for n in concurrency:
        pre = _batch(client, model, n, target_tokens, 1)
        full = _batch(client, model, n, target_tokens, decode_tokens)
        extra_tokens = full["completion_tokens"] - pre["completion_tokens"]
        result[f"concurrency_{n}"] = {
            "prompt_tokens_each": round(pre["prompt_tokens"] / n),
            "prefill_wall_s": round(pre["wall_s"], 2),
            "prefill_tokens_per_s": round(pre["prompt_tokens"] / pre["wall_s"], 1),
            "full_wall_s": round(full["wall_s"], 2),
            "decode_tokens_per_s": round(extra_tokens / max(full["wall_s"] - pre["wall_s"], 1e-9), 1),
            "end_to_end_completion_tokens_per_s": round(full["completion_tokens"] / full["wall_s"], 1),
        }
    resp = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Which is better, answer A or answer B? Reply A or B."}],
        temperature=0, max_tokens=1, logprobs=True, top_logprobs=5)
    content = resp.choices[0].logprobs.content if resp.choices[0].logprobs else None
    top = [{"token": t.token, "logprob": round(t.logprob, 3)} for t in content[0].top_logprobs] if content else []
    result["logprobs"] = {"returned": bool(content), "top_logprobs_returned": len(top), "example_top": top}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    hf = sub.add_parser("hf", help="greedy chat answer with transformers")
    hf.add_argument("model_dir", type=Path)
    hf.add_argument("--max-new-tokens", type=int, default=96)
    sv = sub.add_parser("serve", help="prefill/decode speed and logprobs through an OpenAI-compatible server")
    sv.add_argument("--base-url", required=True)
    sv.add_argument("--model", required=True)
    sv.add_argument("--prompt-tokens", type=int, default=500)
    sv.add_argument("--decode-tokens", type=int, default=64)
    sv.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    sv.add_argument("--label", default=None, help="key in the results file (default: serve:<model>)")
    args = parser.parse_args(argv)
    apply_safe_env()
    machine = {"machine": platform.machine(), "python": platform.python_version()}
    if args.cmd == "hf":
        _merge(f"hf:{args.model_dir.name}", {**bench_hf(args.model_dir, args.max_new_tokens), **machine})
    else:
        res = bench_serve(args.base_url, args.model, args.prompt_tokens, args.decode_tokens, args.concurrency)
        _merge(args.label or f"serve:{args.model}", {**res, **machine})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
