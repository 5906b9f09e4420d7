"""The in-process backend: local transformers model folders, one ``BatchWorker`` each.

Chat templates and tokenising run on one ``tokenize`` thread, never on the event loop, so a huge
prompt does not hold up other requests or ``/healthz``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from supportbot.serve.backend_errors import InvalidPromptError, ModelLoadError, UnknownModelError
from supportbot.serve.batching import BatchWorker, GenParams, GenRequest, GenResult, TokenEvent, stats
from supportbot.serve.schemas import ChatCompletionRequest, chat_chunk, chat_completion, completion_id, usage

__all__ = ["TransformersBackend", "load_model", "model_context", "params_from_request"]


def params_from_request(body: ChatCompletionRequest, max_tokens: int) -> GenParams:
    return GenParams(max_tokens=max_tokens, temperature=body.temperature, top_p=body.top_p, seed=body.seed,
                     stop=tuple(body.stop_list()), logprobs=body.logprobs, top_logprobs=body.top_logprobs or 0,
                     ignore_eos=body.ignore_eos)


def load_model(model_dir: str | Path):
    """Tokenizer (left padding) and fp32 model from a local safetensors folder; no remote code."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise ModelLoadError(f"{model_dir}: not a model folder (no config.json)")
    if not any(model_dir.glob("*.safetensors")):
        raise ModelLoadError(f"{model_dir}: no *.safetensors weights (only safetensors folders are loaded)")
    tok = AutoTokenizer.from_pretrained(model_dir, padding_side="left", trust_remote_code=False)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, use_safetensors=True,
                                                 trust_remote_code=False)
    model.eval()
    return tok, model


def model_context(model, tokenizer) -> int | None:
    """Tokens the model can attend to: ``max_position_embeddings`` (and the tokenizer's own limit when lower)."""
    limits = [getattr(model.config, "max_position_embeddings", None), getattr(tokenizer, "model_max_length", None)]
    ok = [int(n) for n in limits if isinstance(n, int) and 0 < n < 10**7]  # tokenizers say 1e30 for "unknown"
    return min(ok) if ok else None


class TransformersBackend:
    """One ``BatchWorker`` per named local model folder."""

    kind = "transformers"

    def __init__(self, models: Mapping[str, str | Path], *, queue_size: int = 64, max_batch_size: int = 16,
                 batch_wait_ms: float = 5.0) -> None:
        if not models:
            raise ValueError("no models given")
        self.dirs = {n: Path(d) for n, d in models.items()}
        self._tokenize = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenize")
        self.workers: dict[str, BatchWorker] = {}
        for name, d in self.dirs.items():
            tok, model = load_model(d)
            self.workers[name] = BatchWorker(model, tok, name=name, queue_size=queue_size,
                                             max_batch_size=max_batch_size, batch_wait_s=batch_wait_ms / 1000)

    # ------------------------------------------------------------ sync API (demo, benchmark)
    def model_ids(self) -> list[str]:
        return list(self.workers)

    def worker(self, model: str | None) -> BatchWorker:
        name = model or next(iter(self.workers))
        if name not in self.workers:
            raise UnknownModelError(f"model {name!r} is not served here; available: {', '.join(self.workers)}")
        return self.workers[name]

    def encode(self, model: str | None, messages: list[dict[str, str]]) -> list[int]:
        tok = self.worker(model).tokenizer
        try:
            text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            return tok(text, add_special_tokens=False)["input_ids"]
        except Exception as exc:  # noqa: BLE001 - a template that raises on this conversation, odd text
            raise InvalidPromptError(f"the chat template or tokenizer of model {model or self.model_ids()[0]!r} "
                                     f"cannot take these messages: {type(exc).__name__}: {exc}") from None

    def context_length(self, model: str) -> int | None:
        w = self.worker(model)
        return model_context(w.model, w.tokenizer)

    def submit(self, model: str | None, messages: list[dict[str, str]], params: GenParams,
               on_event: Callable[[TokenEvent], None] | None = None) -> GenRequest:
        req = GenRequest(self.encode(model, messages), params, on_event)
        self.worker(model).submit(req)
        return req

    def generate(self, model: str | None, messages: list[dict[str, str]], params: GenParams,
                 on_event: Callable[[TokenEvent], None] | None = None) -> GenResult:
        """Blocking: one answer (batched with whatever else is submitted at the same moment)."""
        return self.submit(model, messages, params, on_event).future.result()

    def close(self) -> None:
        for w in self.workers.values():
            w.close()
        self._tokenize.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------ async API (the app)
    async def list_models(self) -> list[str]:
        return self.model_ids()

    async def _encode(self, model: str, messages: list[dict[str, str]]) -> list[int]:
        """``encode`` on the tokenize thread."""
        return await asyncio.get_running_loop().run_in_executor(self._tokenize, self.encode, model, messages)

    async def _submit(self, model: str, body: ChatCompletionRequest, max_tokens: int,
                      on_event: Callable[[TokenEvent], None] | None = None) -> GenRequest:
        ids = await self._encode(model, [m.model_dump() for m in body.messages])
        req = GenRequest(ids, params_from_request(body, max_tokens), on_event)
        self.worker(model).submit(req)
        return req

    async def count_input_tokens(self, model: str, messages: list[dict[str, str]]) -> int:
        return len(await self._encode(model, messages))

    async def health(self) -> dict[str, Any]:
        """Each model's queue and worker; ``problems`` names every worker that has ended."""
        models = {n: stats(w) for n, w in self.workers.items()}
        problems = [("worker_dead", f"model {n!r}: worker thread {w.failure or 'stopped'}")
                    for n, w in self.workers.items() if not w.alive]
        return {"backend": self.kind, "models": models, "problems": problems}

    async def chat(self, body: ChatCompletionRequest, model: str, max_tokens: int) -> dict:
        req = await self._submit(model, body, max_tokens)
        try:
            res: GenResult = await asyncio.wrap_future(req.future)
        except asyncio.CancelledError:
            req.cancelled.set()
            raise
        return chat_completion(cid=completion_id(), model=model, text=res.text, finish_reason=res.finish_reason,
                               prompt_tokens=res.prompt_tokens, completion_tokens=res.completion_tokens,
                               logprobs=res.logprobs)

    async def stream(self, body: ChatCompletionRequest, model: str, max_tokens: int) -> AsyncIterator[dict]:
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[TokenEvent | None] = asyncio.Queue()
        req = await self._submit(model, body, max_tokens,
                                 on_event=lambda ev: loop.call_soon_threadsafe(events.put_nowait, ev))
        req.future.add_done_callback(lambda _f: loop.call_soon_threadsafe(events.put_nowait, None))
        return self._chunks(req, events, body, model)

    async def _chunks(self, req: GenRequest, events: asyncio.Queue, body: ChatCompletionRequest,
                      model: str) -> AsyncIterator[dict]:
        cid, created = completion_id(), int(time.time())
        try:
            yield chat_chunk(cid=cid, model=model, created=created, delta={"role": "assistant", "content": ""})
            while (ev := await events.get()) is not None:
                if ev.delta or ev.logprob is not None:
                    yield chat_chunk(cid=cid, model=model, created=created, delta={"content": ev.delta},
                                     logprobs=[ev.logprob] if ev.logprob is not None else None)
            res: GenResult = req.future.result()
            yield chat_chunk(cid=cid, model=model, created=created, delta={}, finish_reason=res.finish_reason)
            if body.stream_options and body.stream_options.include_usage:
                yield {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                       "choices": [], "usage": usage(res.prompt_tokens, res.completion_tokens)}
        finally:
            req.cancelled.set()  # a client that went away stops its row; harmless after the end

