"""Answer the eval questions through any OpenAI-compatible endpoint (vLLM, the project's app, a hosted API).

Used by ``eval/generate.py`` (the CLI), ``tools/bench_generate.py`` and ``demo.py``.

Resumable by construction: every answer is appended (and fsynced) to the output JSONL as soon as it
arrives, keyed by the eval row's ``id``; a rerun reads the file, skips ids already answered and asks
only for the rest. A broken last line (a run killed mid-write) is moved to ``<out>.rejected`` before
appending (:func:`supportbot.jsonl.repair_tail`), with a message; any other bad line is an error.
Failed requests (after the client's own retries) are not written, so the next run retries them; an
endpoint that refuses the connection stops the run at the first such error (naming the URL).
One run at a time per output file: :func:`generate` holds an exclusive lock on it
(:func:`supportbot.jsonl.exclusive_writer`); a second run on the same file stops at once with
:class:`AnswersFileBusyError` naming the file, instead of answering every row again.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supportbot.http_errors import describe, is_unreachable
from supportbot.jsonl import FileBusyError, append_jsonl, exclusive_writer, iter_jsonl, repair_tail
from supportbot.paths import load_prompt
from supportbot.provenance import sha256_text
from supportbot.records import (  # noqa: F401 (re-exported)
    ROLES,
    SYSTEM_PROMPT_NAME,
    EvalFileError,
    EvalItem,
    load_eval,
)

if TYPE_CHECKING:
    from supportbot.kb_prompt import KbPrompter

DEFAULT_API_KEY_ENV = "SUPPORTBOT_API_KEY"


class OutputMismatchError(ValueError):
    """The output file holds answers made with other settings (model, decoding or system prompt)."""


AnswersFileBusyError = FileBusyError  # another generate run holds the answers file (a ValueError: rc 2 via run_cli)


@dataclass(frozen=True)
class Decoding:
    temperature: float = 0.0
    max_tokens: int = 256
    seed: int = 0
    top_p: float = 1.0
    # vLLM's multiplicative penalty on tokens already in the prompt or output (1.0 = off); sent as an
    # extra body field, so only when set (hosted OpenAI endpoints do not know it)
    repetition_penalty: float = 1.0


def api_key_from_env(var: str = DEFAULT_API_KEY_ENV) -> str:
    """The API key from ``$var``, or ``"EMPTY"`` (local servers without a key accept anything)."""
    return os.environ.get(var) or "EMPTY"


def build_messages(item: EvalItem, system_prompt: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": system_prompt}, *item.messages]


def row_kb_settings(row: dict[str, Any]) -> dict[str, Any] | None:
    """The retrieval settings an answer row was made with (None: no KB passages in its prompt)."""
    kb = row.get("kb")
    return {k: v for k, v in kb.items() if k != "passages"} if isinstance(kb, dict) else None


def load_done(path: Path, *, model: str, decoding: Decoding, system_sha: str,
              fingerprint: str | None = None, kb_settings: dict[str, Any] | None = None) -> dict[Any, dict]:
    """Answers already in ``path`` by id; raises if they were made with other settings.

    ``fingerprint`` (e.g. a hash of the served weights) is compared only when given, so that a
    retrained model served under the same name does not resume from the old model's answers.
    ``kb_settings`` (:attr:`supportbot.kb_prompt.KbPrompter.settings`, None without retrieval) must match too.
    """
    if not path.is_file():
        return {}
    # base_url is recorded but not compared: the same model may be served again on another port
    want = {"model": model, "decoding": asdict(decoding), "system_prompt_sha256": system_sha}
    if fingerprint is not None:
        want["model_fingerprint"] = fingerprint
    want["kb"] = kb_settings
    done: dict[Any, dict] = {}
    for line, row in iter_jsonl(path):  # every row is checked, a repeated id's too; the first one is kept
        if "id" not in row or "answer" not in row:
            raise OutputMismatchError(f"{path}:{line}: not an answers row (needs 'id' and 'answer')")
        got = {key: row.get(key) for key in want} | {"kb": row_kb_settings(row)}
        for key, value in want.items():
            if got[key] != value:
                raise OutputMismatchError(
                    f"{path}:{line}: existing answers were made with {key}={got[key]!r}, this run uses {value!r}; "
                    "use another --out file, or delete this one to start over")
        done.setdefault(row["id"], row)
    return done


def pending_items(items: list[EvalItem], out: Path, *, model: str, decoding: Decoding = Decoding(),
                  system_prompt_name: str = SYSTEM_PROMPT_NAME, fingerprint: str | None = None,
                  kb_settings: dict[str, Any] | None = None) -> list[EvalItem]:
    """The items ``out`` has no answer for yet (made with these settings; see :func:`load_done`)."""
    system_sha = sha256_text(load_prompt(system_prompt_name))
    done = load_done(Path(out), model=model, decoding=decoding, system_sha=system_sha, fingerprint=fingerprint,
                     kb_settings=kb_settings)
    return [it for it in items if it.id not in done]


@dataclass
class GenerationStats:
    total: int = 0
    skipped: int = 0
    written: int = 0
    failed: int = 0
    wall_s: float = 0.0
    completion_tokens: int = 0
    errors: list[str] | None = None
    unreachable: str | None = None  # set when the endpoint refused the connection (the run stopped there)

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.wall_s if self.wall_s else 0.0


def make_client(base_url: str, api_key: str, *, timeout: float = 300.0, max_retries: int = 3, max_connections: int = 64):
    import httpx
    from openai import OpenAI

    http_client = httpx.Client(limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
                               timeout=timeout)
    return OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries, http_client=http_client)


def chat_once(client, model: str, messages: list[dict[str, str]], decoding: Decoding) -> dict[str, Any]:
    """One chat completion; returns answer, finish reason, token counts and latency."""
    t0 = time.perf_counter()
    extra = {"repetition_penalty": decoding.repetition_penalty} if decoding.repetition_penalty != 1.0 else None
    resp = client.chat.completions.create(model=model, messages=messages, temperature=decoding.temperature,
                                          top_p=decoding.top_p, max_tokens=decoding.max_tokens, seed=decoding.seed,
                                          extra_body=extra)
    latency = time.perf_counter() - t0
    choice = resp.choices[0]
    usage = resp.usage
    return {
        "answer": choice.message.content or "",
        "finish_reason": choice.finish_reason,
        "latency_s": round(latency, 3),
        "prompt_tokens": getattr(usage, "prompt_tokens", None),
        "completion_tokens": getattr(usage, "completion_tokens", None),
    }


def generate(
    items: Iterable[EvalItem],
    out: str | Path,
    *,
    base_url: str,
    model: str,
    api_key: str = "EMPTY",
    decoding: Decoding = Decoding(),
    concurrency: int = 8,
    timeout: float = 300.0,
    max_retries: int = 3,
    system_prompt_name: str = SYSTEM_PROMPT_NAME,
    progress: bool = True,
    on_row: Callable[[dict], None] | None = None,
    fingerprint: str | None = None,
    kb: KbPrompter | None = None,
) -> GenerationStats:
    """Answer every item not yet in ``out``; append one row per answer. See the module docstring.

    With ``kb``, each conversation's retrieved KB passages are written into its system prompt
    (prompts/support_kb.txt) and recorded in its row (``kb``: settings and passages)."""
    out = Path(out)
    with exclusive_writer(out):
        return _generate(list(items), out, base_url=base_url, model=model, api_key=api_key, decoding=decoding,
                         concurrency=concurrency, timeout=timeout, max_retries=max_retries,
                         system_prompt_name=system_prompt_name, progress=progress, on_row=on_row,
                         fingerprint=fingerprint, kb=kb)


def _generate(items: list[EvalItem], out: Path, *, base_url: str, model: str, api_key: str, decoding: Decoding,
              concurrency: int, timeout: float, max_retries: int, system_prompt_name: str, progress: bool,
              on_row: Callable[[dict], None] | None, fingerprint: str | None, kb: KbPrompter | None) -> GenerationStats:
    """:func:`generate` while holding the lock on ``out``."""
    system_prompt = load_prompt(system_prompt_name)
    system_sha = sha256_text(system_prompt)
    note = repair_tail(out)
    if note:
        print(f"warning: {note}", file=sys.stderr)
    todo = pending_items(items, out, model=model, decoding=decoding, system_prompt_name=system_prompt_name,
                         fingerprint=fingerprint, kb_settings=kb.settings if kb else None)
    stats = GenerationStats(total=len(items), skipped=len(items) - len(todo), errors=[])
    if not todo:
        return stats
    client = make_client(base_url, api_key, timeout=timeout, max_retries=max_retries, max_connections=max(concurrency, 1) * 2)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(items), initial=stats.skipped, desc=f"answers {model}", unit="ans", dynamic_ncols=True)
    # retrieval runs here, in one thread, before any request (the embedder is not shared between threads)
    prompts = {item.id: kb.system_prompt(system_prompt, item.messages) if kb else (system_prompt, None) for item in todo}

    def work(item: EvalItem) -> dict[str, Any]:
        system, used = prompts[item.id]
        result = chat_once(client, model, build_messages(item, system), decoding)
        return {
            "id": item.id,
            "question": item.question,
            **result,
            "model": model,
            "base_url": base_url,
            "decoding": asdict(decoding),
            "system_prompt": system_prompt_name,
            "system_prompt_sha256": system_sha,
            **({"model_fingerprint": fingerprint} if fingerprint is not None else {}),
            **({"kb": {**kb.settings, "passages": [asdict(u) for u in used]}} if kb else {}),
            "created": round(time.time(), 3),
        }

    t0 = time.perf_counter()
    pending: dict[Future, EvalItem] = {}
    queue = iter(todo)
    # at most `concurrency` requests in flight; rows are written from this thread only
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="gen")
    interrupted = False
    try:
        for item in queue:
            pending[pool.submit(work, item)] = item
            if len(pending) >= concurrency:
                break
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                item = pending.pop(fut)
                try:
                    row = fut.result()
                except Exception as exc:  # noqa: BLE001 - reported, retried on the next run
                    stats.failed += 1
                    stats.errors.append(f"id {item.id!r}: {describe(exc, base_url)}")
                    if is_unreachable(exc) and stats.unreachable is None:
                        stats.unreachable = describe(exc, base_url)
                        rest = list(queue)  # nothing listens there: ask no more (a rerun asks again)
                        stats.failed += len(rest)
                        if bar:
                            bar.update(len(rest))
                else:
                    append_jsonl(out, row)
                    stats.written += 1
                    stats.completion_tokens += row.get("completion_tokens") or 0
                    if on_row:
                        on_row(row)
                if bar:
                    bar.update(1)
                nxt = next(queue, None)
                if nxt is not None:
                    pending[pool.submit(work, nxt)] = nxt
    except BaseException:
        interrupted = True  # what was written stays written; in-flight answers are asked again next run
        raise
    finally:
        pool.shutdown(wait=not interrupted, cancel_futures=True)
        stats.wall_s = time.perf_counter() - t0
        if bar:
            bar.close()
        if not interrupted:
            client.close()
    return stats
