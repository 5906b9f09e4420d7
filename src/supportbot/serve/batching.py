"""Batched decoding for one in-process transformers model: a worker thread and its request queue.

``BatchWorker.submit`` admits a request (or raises ``QueueFullError`` when ``queue_size`` requests
are already waiting or running). The worker thread takes the first waiting request, collects more
for up to ``batch_wait_s`` (at most ``max_batch_size``), left-pads their prompts into one batch and
decodes them together with a KV cache, one forward pass per step for the whole batch.

The decode loop is written out (instead of ``model.generate``) because each row of a batch keeps its
own decoding settings: temperature (below 1e-5 = greedy), top_p, seed, stop strings, max_tokens,
logprobs, and its own stream of text deltas. A row that finishes resolves its future at once; the
others go on. A row that fails (bad settings, a decoding error) fails alone: its future gets the
exception and the rest of the batch decodes on. Log-probabilities are ``log_softmax`` of the raw
logits (before temperature/top_p), as vLLM reports them by default.

Records live in ``supportbot.serve.gen_records`` and the decode loop in ``supportbot.serve.decode``;
both are re-exported here.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from typing import Any

from supportbot.serve.decode import SAMPLING_EPS, _held_back, _Row, decode_batch
from supportbot.serve.gen_records import GenParams, GenRequest, GenResult, QueueFullError, TokenEvent

__all__ = ["SAMPLING_EPS", "BatchWorker", "GenParams", "GenRequest", "GenResult", "QueueFullError", "TokenEvent",
           "_Row", "_held_back", "decode_batch", "stats"]


class BatchWorker:
    """One model, one worker thread, one bounded queue of ``GenRequest``."""

    def __init__(self, model, tokenizer, *, name: str, queue_size: int = 64, max_batch_size: int = 16,
                 batch_wait_s: float = 0.005) -> None:
        self.model, self.tokenizer, self.name = model, tokenizer, name
        self.queue_size, self.max_batch_size, self.batch_wait_s = queue_size, max_batch_size, batch_wait_s
        gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
        eos = set(gen_eos if isinstance(gen_eos, list) else [gen_eos] if gen_eos is not None else [])
        if tokenizer.eos_token_id is not None:
            eos.add(tokenizer.eos_token_id)
        self.eos_ids = eos
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(eos)
        self._q: queue.Queue[GenRequest | None] = queue.Queue()
        self._lock = threading.Lock()
        self._admitted = 0
        self.batches_run = 0
        self.largest_batch = 0
        self._thread = threading.Thread(target=self._loop, name=f"batch-{name}", daemon=True)
        self._thread.start()

    @property
    def load(self) -> int:
        """Requests waiting or running."""
        return self._admitted

    def submit(self, req: GenRequest) -> Future:
        with self._lock:
            if self._admitted >= self.queue_size:
                raise QueueFullError(f"model {self.name!r} is busy: {self._admitted} requests queued "
                                     f"(--queue-size {self.queue_size}); retry later")
            self._admitted += 1
        req.future.add_done_callback(self._release)
        self._q.put(req)
        return req.future

    def _release(self, _fut: Future) -> None:
        with self._lock:
            self._admitted -= 1

    def close(self, timeout: float = 10.0) -> None:
        """Stop the batching thread after the batch in flight; wait for it, so no torch call outlives the caller
        (a daemon thread inside torch at interpreter exit can abort the process)."""
        self._q.put(None)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _collect(self) -> list[GenRequest] | None:
        first = self._q.get()
        if first is None:
            return None
        batch = [first]
        deadline = time.monotonic() + self.batch_wait_s
        while len(batch) < self.max_batch_size:
            try:
                nxt = self._q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if nxt is None:
                self._q.put(None)
                break
            batch.append(nxt)
        return batch

    def _loop(self) -> None:
        while (batch := self._collect()) is not None:
            live = []
            for r in batch:
                if r.cancelled.is_set():
                    r.future.set_result(GenResult("", "cancelled", len(r.input_ids), 0))
                else:
                    live.append(r)
            if not live:
                continue
            self.batches_run += 1
            self.largest_batch = max(self.largest_batch, len(live))
            try:
                decode_batch(self.model, self.tokenizer, live, self.eos_ids, self.pad_id)
            except Exception as exc:  # noqa: BLE001 - handed to every waiting caller
                for r in live:
                    if not r.future.done():
                        r.future.set_exception(exc)


def stats(worker: BatchWorker) -> dict[str, Any]:
    return {"queued": worker.load, "batches_run": worker.batches_run, "largest_batch": worker.largest_batch}
