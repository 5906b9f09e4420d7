"""``python -m supportbot.serve --model base=<dir> [--model tuned=<dir>] | --upstream URL [--port P]``.

See ``--help``. The API key, if any, comes from ``$SUPPORTBOT_API_KEY`` and is never printed.
"""

from __future__ import annotations

import sys

from supportbot.cli_errors import run_cli
from supportbot.runtime_env import apply_safe_env


def main(argv: list[str] | None = None) -> int:
    from supportbot.serve.settings import settings_from_args

    settings, args = settings_from_args(argv)
    apply_safe_env()
    import uvicorn

    from supportbot.serve.app import context_problems, create_app
    from supportbot.serve.backends import ModelLoadError, TransformersBackend, UpstreamBackend
    from supportbot.serve.guards import JsonErrorH11Protocol

    try:
        if settings.upstream:
            backend = UpstreamBackend(settings.upstream, queue_size=settings.queue_size)
        else:
            backend = TransformersBackend(settings.models, queue_size=settings.queue_size,
                                          max_batch_size=settings.max_batch_size, batch_wait_ms=settings.batch_wait_ms)
    except ModelLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    problems = context_problems(settings, backend)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 2
    kb = None
    if settings.kb_dir is not None:
        from supportbot.kb_prompt import KbPrompter
        from supportbot.retrieval import RetrievalError

        try:
            kb = KbPrompter.build(settings.kb_dir)
        except (RetrievalError, OSError, ValueError) as exc:
            print(f"error: --kb: {exc}", file=sys.stderr)
            return 2
    app = create_app(settings, backend, kb=kb)
    what = settings.upstream or ", ".join(f"{n}={d}" for n, d in settings.models.items())
    print(f"supportbot: serving {what} on http://{settings.host}:{settings.port} "
          f"(auth {'on' if settings.api_key else 'off'}; retrieval {'on, ' + str(settings.kb_dir) if kb else 'off'})",
          flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level, http=JsonErrorH11Protocol)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
