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

No client can stop the worker: a request whose caller went away (its future cancelled, or its
``cancelled`` flag set) is skipped or stopped, a future is resolved through ``settle`` (which never
raises), and an error in one batch fails that batch's requests only. Should the thread end anyway
(``close``, or an error outside any batch), ``alive`` turns false, ``failure`` says why (``/healthz``
answers 503 with it), everything waiting fails with ``WorkerDeadError`` and ``submit`` refuses at once.

Records live in ``supportbot.serve.gen_records`` and the decode loop in ``supportbot.serve.decode``;
both are re-exported here.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from typing import Any

from supportbot.serve.decode import SAMPLING_EPS, _held_back, _Row, decode_batch
from supportbot.serve.gen_records import (
    GenParams,
    GenRequest,
    GenResult,
    QueueFullError,
    TokenEvent,
    WorkerDeadError,
    settle,
)

__all__ = ["SAMPLING_EPS", "BatchWorker", "GenParams", "GenRequest", "GenResult", "QueueFullError", "TokenEvent",
           "WorkerDeadError", "_Row", "_held_back", "decode_batch", "stats"]

log = logging.getLogger("supportbot.serve")


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
        self.failure: str | None = None  # why the worker thread ended (None while it runs)
        self._thread = threading.Thread(target=self._run, name=f"batch-{name}", daemon=True)
        self._thread.start()

    @property
    def load(self) -> int:
        """Requests waiting or running."""
        return self._admitted

    @property
    def alive(self) -> bool:
        """The worker thread runs and takes requests."""
        return self.failure is None and self._thread.is_alive()

    def _dead(self) -> WorkerDeadError:
        why = self.failure or "stopped"
        return WorkerDeadError(f"model {self.name!r} cannot answer: its worker thread {why}; restart the service")

    def submit(self, req: GenRequest) -> Future:
        """Queue ``req``; raises ``QueueFullError`` when full and ``WorkerDeadError`` when the worker has ended."""
        if not self.alive:
            raise self._dead()
        with self._lock:
            if self._admitted >= self.queue_size:
                raise QueueFullError(f"model {self.name!r} is busy: {self._admitted} requests queued "
                                     f"(--queue-size {self.queue_size}); retry later")
            self._admitted += 1
        req.future.add_done_callback(self._release)
        self._q.put(req)
        if not self.alive:  # it ended while this one was queued: nobody will take it
            self._fail_waiting()
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

    def _run(self) -> None:
        try:
            self._loop()
            self.failure = "was closed"
        except BaseException as exc:
            self.failure = f"died: {type(exc).__name__}: {exc}"[:500]
            log.critical("model %r: the batch worker thread died; /healthz answers 503", self.name, exc_info=True)
            raise
        finally:
            self._fail_waiting()

    def _fail_waiting(self) -> None:
        """Fail every request still queued (the worker has ended)."""
        while True:
            try:
                req = self._q.get_nowait()
            except queue.Empty:
                return
            if req is not None:
                settle(req.future, exc=self._dead())

    @staticmethod
    def _take(req: GenRequest) -> bool:
        """Start ``req`` unless its caller gave up (a cancelled future, or the ``cancelled`` flag)."""
        try:
            if not req.future.set_running_or_notify_cancel():
                return False  # cancelled while queued: its caller is gone, nothing to answer
        except RuntimeError:  # already resolved elsewhere
            return False
        if req.cancelled.is_set():
            settle(req.future, GenResult("", "cancelled", len(req.input_ids), 0))
            return False
        return True

    def _loop(self) -> None:
        while (batch := self._collect()) is not None:
            live = [r for r in batch if self._take(r)]
            if not live:
                continue
            self.batches_run += 1
            self.largest_batch = max(self.largest_batch, len(live))
            try:
                decode_batch(self.model, self.tokenizer, live, self.eos_ids, self.pad_id)
            except Exception as exc:  # noqa: BLE001 - handed to every caller of this batch; the worker goes on
                log.exception("model %r: a batch of %d failed", self.name, len(live))
                for r in live:
                    settle(r.future, exc=exc)


def stats(worker: BatchWorker) -> dict[str, Any]:
    out = {"alive": worker.alive, "queued": worker.load, "batches_run": worker.batches_run,
           "largest_batch": worker.largest_batch}
    return out if worker.alive else {**out, "failure": worker.failure}
