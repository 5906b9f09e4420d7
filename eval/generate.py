#!/usr/bin/env python
"""Answer every eval question through an OpenAI-compatible endpoint; resumable.

    python eval/generate.py --base-url http://127.0.0.1:8000/v1 --model base --out results/answers/base.jsonl

Each row of ``--eval`` (``{"id": ..., "messages": [...]}``) is sent with the support system prompt
(``prompts/support_system.txt``) prepended, at temperature 0 with a fixed seed, with at most
``--concurrency`` requests in flight. Every answer is appended to ``--out`` as soon as it arrives
(``id``, ``question``, ``answer``, ``finish_reason``, ``latency_s``, ``prompt_tokens``,
``completion_tokens``, ``model``, ``base_url``, ``decoding``, ``system_prompt_sha256``); rerunning the
same command skips ids already answered, so an interrupted run continues where it stopped. The
API key is read from the environment variable named by ``--api-key-env`` and never written.

``--kb`` answers with retrieval on: the top ``--kb-k`` passages of the knowledge base (``--kb-dir``,
default data/kb/) for each conversation are written into the system prompt through
``prompts/support_kb.txt`` (quoted as reference data) and recorded in the row's ``kb`` field.

    python eval/generate.py --base-url http://127.0.0.1:8000/v1 --model base --kb --out results/answers/base_kb.jsonl

Exit status: 0 when every item has an answer, 1 when some requests failed (rerun to retry them;
an endpoint that refuses the connection stops the run at once, naming the URL), 2 on a bad eval
file, an output file made with other settings, or a bad line in it (``file:line``; a broken last
line, as a killed run leaves, is moved to ``<out>.rejected`` instead, with a warning).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from supportbot.cli_args import (
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    prompt_name,
)
from supportbot.cli_errors import check_writable, cli_main
from supportbot.generation import (
    DEFAULT_API_KEY_ENV,
    SYSTEM_PROMPT_NAME,
    Decoding,
    api_key_from_env,
    generate,
    load_eval,
)
from supportbot.kb_prompt import DEFAULT_K, KbPrompter
from supportbot.paths import DATA_DIR
from supportbot.retrieval import DEFAULT_METHOD, KB_DIR, METHODS
from supportbot.retrieval_files import DEFAULT_KNN_M, DEFAULT_STRATEGY, STRATEGIES


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--base-url", required=True, help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--model", required=True, help="model name as the endpoint serves it (e.g. base, tuned)")
    p.add_argument("--out", required=True, type=Path, help="answers JSONL (appended to; e.g. results/answers/base.jsonl)")
    p.add_argument("--eval", type=Path, default=DATA_DIR / "eval.jsonl", help="eval JSONL with id and messages")
    p.add_argument("--concurrency", type=positive_int, default=8, help="requests in flight at once")
    p.add_argument("--max-tokens", type=positive_int, default=256)
    p.add_argument("--temperature", type=non_negative_float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repetition-penalty", type=float, default=1.0,
                   help="vLLM repetition_penalty (1.0 = off; recorded in every answer row's decoding)")
    p.add_argument("--limit", type=positive_int, default=None, help="answer only the first N eval items (a later run without it continues)")
    p.add_argument("--timeout", type=positive_float, default=300.0, help="seconds per request")
    p.add_argument("--max-retries", type=non_negative_int, default=3, help="the openai client's retries per request")
    p.add_argument("--api-key-env", default=DEFAULT_API_KEY_ENV, help="env var holding the API key (\"EMPTY\" when unset)")
    p.add_argument("--system-prompt", type=prompt_name, default=SYSTEM_PROMPT_NAME,
                   help="prompt file name under prompts/ (no folders)")
    p.add_argument("--model-fingerprint", help="identifies the served weights (e.g. their sha256); recorded in every row, "
                   "and existing rows made with another fingerprint are refused instead of resumed")
    p.add_argument("--kb", action="store_true", help="retrieval on: put the KB passages retrieved for each "
                   "conversation into the prompt (prompts/support_kb.txt)")
    p.add_argument("--kb-dir", type=Path, default=KB_DIR, help="knowledge base folder of *.md files (with --kb)")
    p.add_argument("--kb-k", type=positive_int, default=DEFAULT_K, help="passages per conversation (with --kb)")
    p.add_argument("--kb-method", choices=METHODS, default=DEFAULT_METHOD,
                   help="retriever (with --kb; hybrid = BM25 + MiniLM, chosen in results/retrieval.json)")
    p.add_argument("--kb-strategy", choices=STRATEGIES, default=DEFAULT_STRATEGY,
                   help="how ranked chunks become the top --kb-k (with --kb): plain = as ranked (the committed arms'), "
                   "diverse = one chunk per file first, knn / prior = diverse with a file prior from the nearest "
                   "training scenarios' kb_refs (fused / first); results/retrieval.json names the recommended one")
    p.add_argument("--kb-knn-m", type=positive_int, default=DEFAULT_KNN_M,
                   help="training scenarios voting in --kb-strategy knn or prior")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    a = p.parse_args(argv)
    if a.repetition_penalty <= 0:
        p.error("--repetition-penalty must be > 0 (1.0 = off)")
    return a


@cli_main  # a bad eval/answers file, an --out that cannot be written, a bad KB: "error: file: problem", rc 2
def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    check_writable(a.out)  # before any request: a folder or read-only place fails now, not at the first answer
    items = load_eval(a.eval)
    if a.limit is not None:
        items = items[: a.limit]
    kb = (KbPrompter.build(a.kb_dir, method=a.kb_method, k=a.kb_k, strategy=a.kb_strategy, knn_m=a.kb_knn_m)
          if a.kb else None)
    decoding = Decoding(temperature=a.temperature, max_tokens=a.max_tokens, seed=a.seed,
                        repetition_penalty=a.repetition_penalty)
    stats = generate(items, a.out, base_url=a.base_url.rstrip("/"), model=a.model,
                     api_key=api_key_from_env(a.api_key_env), decoding=decoding, concurrency=a.concurrency,
                     timeout=a.timeout, max_retries=a.max_retries, system_prompt_name=a.system_prompt,
                     progress=not a.no_progress, fingerprint=a.model_fingerprint, kb=kb)
    print(f"{a.out}: {stats.skipped} already there, {stats.written} new, {stats.failed} failed "
          f"({stats.total} items; {stats.completion_tokens} tokens in {stats.wall_s:.1f} s, "
          f"{stats.tokens_per_s:.1f} tok/s)", file=sys.stderr)
    for err in (stats.errors or [])[:10]:
        print(f"  failed {err}", file=sys.stderr)
    if stats.unreachable:
        print(f"error: nothing answers at {a.base_url} (is the server running?): {stats.unreachable}; "
              "stopped after the first refused connection", file=sys.stderr)
    if stats.failed:
        print("rerun the same command to retry the failed items", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
