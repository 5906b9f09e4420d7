#!/usr/bin/env python
"""Ask the support bot from the terminal.

    python demo.py "my printer is offline"            one answer (the tuned model if it exists, else base)
    python demo.py                                    interactive session (quit, exit or Ctrl-D to leave)
    python demo.py --compare "my printer is offline"  base and tuned side by side (also interactive)
    python demo.py --base-url http://127.0.0.1:8080/v1 "..."   ask a running endpoint instead
    python demo.py --kb "my SR-300 shows a solid red light"      retrieval on: KB passages in the prompt

Without --base-url the models are loaded in this process (no server needed): the base model from
models/smollm2-135m-instruct and the tuned model from outputs/smollm2-135m-lora-cpu/merged when that
folder exists; if it does not, the demo says so and answers with the base model only. With
--base-url it talks to any OpenAI-compatible endpoint (the supportbot service, vLLM) serving models
named --base-name and --tuned-name; its API key, if any, comes from $SUPPORTBOT_API_KEY. Every
question is sent with the support system prompt (prompts/support_system.txt), greedy decoding. With
--kb the knowledge-base passages retrieved for the conversation so far (data/kb/, hybrid BM25 + MiniLM,
top 3) are added to it (prompts/support_kb.txt) and listed, with their file and heading, before each answer.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from supportbot.cli_args import positive_int, utf8_text
from supportbot.cli_errors import CliError, cli_main
from supportbot.paths import DEFAULT_BASE_MODEL_DIR, DEFAULT_TUNED_DIR, KB_DIR, load_prompt
from supportbot.runtime_env import apply_safe_env

ROOT = Path(__file__).resolve().parent

if TYPE_CHECKING:
    from supportbot.kb_prompt import KbPrompter


Ask = Callable[[str, list[dict[str, str]], Callable[[str], None] | None], str]


def local_asker(dirs: dict[str, Path], max_tokens: int) -> tuple[Ask, Callable[[], None]]:
    """Answers from local model folders through the service's in-process backend, and its close()."""
    from supportbot.serve.backends import TransformersBackend
    from supportbot.serve.batching import GenParams

    backend = TransformersBackend(dirs)
    params = GenParams(max_tokens=max_tokens, temperature=0.0)

    def ask(model: str, messages: list[dict[str, str]], on_delta: Callable[[str], None] | None) -> str:
        cb = (lambda ev: on_delta(ev.delta) if ev.delta else None) if on_delta else None
        return backend.generate(model, messages, params, on_event=cb).text

    return ask, backend.close


def remote_asker(base_url: str, max_tokens: int) -> tuple[Ask, list[str]]:
    """Answers from an OpenAI-compatible endpoint; also returns the model names it serves."""
    from supportbot.generation import api_key_from_env, make_client

    client = make_client(base_url, api_key_from_env(), max_retries=1)
    served = [m.id for m in client.models.list().data]

    def ask(model: str, messages: list[dict[str, str]], on_delta: Callable[[str], None] | None) -> str:
        kw = dict(model=model, messages=messages, temperature=0, seed=0, max_tokens=max_tokens)
        if on_delta is None:
            return client.chat.completions.create(**kw).choices[0].message.content or ""
        parts = []
        for chunk in client.chat.completions.create(stream=True, **kw):
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
                on_delta(parts[-1])
        return "".join(parts)

    return ask, served


def choose_models(a: argparse.Namespace, served: list[str] | None) -> list[str]:
    """Which of base/tuned to use; explains on stderr when the tuned model is missing."""
    if served is not None:
        missing = [n for n in (a.base_name, a.tuned_name) if n not in served]
        if a.base_name in missing and a.tuned_name in missing:
            raise CliError(f"{a.base_url} serves {served}, neither {a.base_name!r} nor {a.tuned_name!r} "
                             "(set --base-name/--tuned-name)")
        if a.tuned_name in missing:
            print(f"note: {a.base_url} has no model {a.tuned_name!r}; answering with {a.base_name!r} only.",
                  file=sys.stderr)
            return [a.base_name]
        if a.base_name in missing:
            return [a.tuned_name]
    elif not (a.tuned_dir / "config.json").is_file():
        print(f"note: no tuned model at {a.tuned_dir} yet (run `make pipeline` or scripts/train.py to make one); "
              "answering with the base model only.", file=sys.stderr)
        return [a.base_name]
    if a.compare:
        return [a.base_name, a.tuned_name]
    return [a.tuned_name]


def show_side_by_side(question: str, answers: dict[str, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=question, show_lines=True, expand=True)
    for name in answers:
        table.add_column(name, ratio=1, overflow="fold")
    table.add_row(*[text or "(empty)" for text in answers.values()])
    Console().print(table)


class Session:
    """Keeps one conversation per model; answers one user turn at a time."""

    def __init__(self, ask: Ask, models: list[str], kb: KbPrompter | None = None) -> None:
        self.ask, self.models, self.kb = ask, models, kb
        self.history: dict[str, list[dict[str, str]]] = {m: [] for m in models}
        self.system = {"role": "system", "content": load_prompt("support_system")}

    def prompt_for(self, m: str) -> dict[str, str]:
        """The system message for model ``m``'s next answer: with --kb, the passages for its conversation."""
        if self.kb is None:
            return self.system
        text, used = self.kb.system_prompt(self.system["content"], self.history[m])
        label = f"[{m}] " if len(self.models) > 1 else ""
        for p in used:
            print(f"{label}KB passage {p.rank}: {p.heading} (score {p.score:.3f})", file=sys.stderr)
        return {"role": "system", "content": text}

    def turn(self, question: str) -> dict[str, str]:
        for m in self.models:
            self.history[m].append({"role": "user", "content": question})
        system = {m: self.prompt_for(m) for m in self.models}
        if len(self.models) == 1:
            m = self.models[0]
            print(f"[{m}] ", end="", flush=True)
            answers = {m: self.ask(m, [system[m], *self.history[m]], lambda d: print(d, end="", flush=True))}
            print()
        else:  # both models at once (each has its own worker), then shown side by side; a failure is raised here
            with ThreadPoolExecutor(len(self.models)) as pool:
                futures = {m: pool.submit(self.ask, m, [system[m], *self.history[m]], None) for m in self.models}
                answers = {m: f.result() for m, f in futures.items()}
            show_side_by_side(question, answers)
        for m, text in answers.items():
            self.history[m].append({"role": "assistant", "content": text})
        return answers


def interactive(session: Session) -> None:
    print(f"supportbot demo ({' vs '.join(session.models)}). Type a question; 'quit' or Ctrl-D to leave.")
    while True:
        try:
            q = utf8_text(input("you> ").strip())
        except (EOFError, KeyboardInterrupt):
            print()
            return
        except (UnicodeError, argparse.ArgumentTypeError) as exc:  # one bad line does not end the session
            print(f"error: {exc}", file=sys.stderr)
            continue
        if q.lower() in {"quit", "exit", ":q"}:
            return
        if q:
            session.turn(q)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("question", nargs="*", type=utf8_text, help="the question (none: interactive session)")
    p.add_argument("--compare", action="store_true", help="answer with base and tuned, side by side")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint to ask instead of loading the models here")
    p.add_argument("--base-dir", type=Path, default=DEFAULT_BASE_MODEL_DIR, help="base model folder (local mode)")
    p.add_argument("--tuned-dir", type=Path, default=DEFAULT_TUNED_DIR, help="tuned (merged) model folder (local mode)")
    p.add_argument("--base-name", default="base", help="served name of the base model")
    p.add_argument("--tuned-name", default="tuned", help="served name of the tuned model")
    p.add_argument("--max-tokens", type=positive_int, default=256)
    p.add_argument("--kb", action="store_true", help="retrieval on: put the KB passages retrieved for the conversation "
                   "into the prompt and show them")
    p.add_argument("--kb-dir", type=Path, default=KB_DIR, help="knowledge base folder for --kb")
    return p.parse_args(argv)


@cli_main  # a dead endpoint, a refused key, a bad KB folder: "error: <where>: <problem>", rc 2
def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    apply_safe_env()
    close: Callable[[], None] = lambda: None  # noqa: E731
    if a.base_url:
        ask, served = remote_asker(a.base_url, a.max_tokens)
        models = choose_models(a, served)
    else:
        models = choose_models(a, None)
        dirs = {a.base_name: a.base_dir, a.tuned_name: a.tuned_dir}
        if not (a.base_dir / "config.json").is_file() and a.base_name in models:
            raise CliError(f"no base model at {a.base_dir}: run `python scripts/bootstrap_model.py`")
        print(f"loading {', '.join(f'{m} ({dirs[m]})' for m in models)} …", file=sys.stderr, flush=True)
        ask, close = local_asker({m: dirs[m] for m in models}, a.max_tokens)
    try:
        kb = None
        if a.kb:
            from supportbot.kb_prompt import KbPrompter

            kb = KbPrompter.build(a.kb_dir)
        session = Session(ask, models, kb)
        if a.question:
            session.turn(" ".join(a.question))
        else:
            interactive(session)
    finally:
        close()  # join the in-process backend's worker threads before the interpreter exits
    return 0


if __name__ == "__main__":
    sys.exit(main())
