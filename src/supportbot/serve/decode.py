"""Decode one batch of requests on one transformers model, each row with its own settings.

The loop is written out (instead of ``model.generate``) because each row keeps its own temperature
(below ``SAMPLING_EPS`` = greedy), top_p, seed, stop strings, max_tokens, logprobs and stream of text
deltas. A row that finishes resolves its future at once; one that fails, fails alone. Log-probabilities
are ``log_softmax`` of the raw logits (before temperature/top_p), as vLLM reports them by default.
"""

from __future__ import annotations

import random

import torch

from supportbot.serve.gen_records import GenRequest, GenResult, TokenEvent, settle

__all__ = ["SAMPLING_EPS", "decode_batch"]

SAMPLING_EPS = 1e-5  # temperatures below this decode greedily (as vLLM does): logits / 5e-324 is inf


def _held_back(text: str, stops: tuple[str, ...]) -> int:
    """How many trailing characters could still become a stop string (or an incomplete UTF-8 char)."""
    hold = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:k]):
                hold = max(hold, k)
                break
    n = len(text)
    while n - hold > 0 and text[n - hold - 1] == "\ufffd":
        hold += 1
    return hold


class _Row:
    """Decoding state of one request inside a batch."""

    def __init__(self, req: GenRequest, tokenizer, eos_ids: set[int]) -> None:
        self.req, self.tok, self.eos_ids = req, tokenizer, eos_ids
        self.p = req.params
        self.ids: list[int] = []
        self.text = ""
        self.emitted = ""
        self.logprobs: list[dict] | None = [] if self.p.logprobs else None
        self.n_sampled = 0  # tokens generated, end-of-sequence included (as vLLM counts them)
        self.done = False
        self.finish_reason = "length"
        self.generator: torch.Generator | None = None
        if self.p.temperature >= SAMPLING_EPS:
            self.generator = torch.Generator().manual_seed(
                self.p.seed if self.p.seed is not None else random.getrandbits(63))

    def choose(self, logits: torch.Tensor) -> int:
        if self.p.temperature < SAMPLING_EPS:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits / self.p.temperature, dim=-1)
        if self.p.top_p < 1.0:
            sorted_p, order = torch.sort(probs, descending=True)
            keep = torch.cumsum(sorted_p, dim=-1) - sorted_p < self.p.top_p
            keep[0] = True  # the top token always stays (a top_p that is 0 in float32 would keep none)
            probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_p[keep])
        return int(torch.multinomial(probs, 1, generator=self.generator))

    def _token_str(self, tid: int) -> str:
        return self.tok.decode([tid], skip_special_tokens=False)

    def add(self, tid: int, logp: torch.Tensor | None) -> None:
        """Record token ``tid`` (``logp``: this step's log-probabilities) and emit what can be shown."""
        from supportbot.serve.schemas import logprob_entry

        self.n_sampled += 1
        entry = None
        if self.logprobs is not None and logp is not None:
            top: list[tuple[str, float]] = []
            if self.p.top_logprobs:
                vals, idx = torch.topk(logp, self.p.top_logprobs)
                top = [(self._token_str(int(i)), float(v)) for v, i in zip(vals, idx, strict=True)]
            entry = logprob_entry(self._token_str(tid), float(logp[tid]), top)
            self.logprobs.append(entry)
        if tid in self.eos_ids and not self.p.ignore_eos:
            self.done, self.finish_reason = True, "stop"
        else:
            self.ids.append(tid)
            self.text = self.tok.decode(self.ids, skip_special_tokens=True)
            for s in self.p.stop:
                at = self.text.find(s, max(0, len(self.emitted) - len(s)))
                if at >= 0:
                    self.text = self.text[:at]
                    self.done, self.finish_reason = True, "stop"
            if not self.done and len(self.ids) >= self.p.max_tokens:
                self.done = True
        if self.req.on_event:
            self.req.on_event(TokenEvent(self._delta(), entry))

    def _delta(self) -> str:
        show = self.text if self.done else self.text[: len(self.text) - _held_back(self.text, self.p.stop)]
        if len(show) <= len(self.emitted) or not show.startswith(self.emitted):
            return ""
        delta, self.emitted = show[len(self.emitted):], show
        return delta

    def fail(self, exc: BaseException) -> None:
        """This row alone stops with ``exc`` (the other rows of the batch go on)."""
        self.done = True
        settle(self.req.future, exc=exc)

    def finish(self, prompt_tokens: int) -> None:
        if self.req.cancelled.is_set():
            self.finish_reason = "cancelled"
        settle(self.req.future, GenResult(self.text, self.finish_reason, prompt_tokens, self.n_sampled, self.logprobs))


@torch.inference_mode()
def decode_batch(model, tokenizer, reqs: list[GenRequest], eos_ids: set[int], pad_id: int) -> None:
    """Decode ``reqs`` together (left padding, one KV cache); resolve each future as its row finishes."""
    from transformers import DynamicCache

    rows: list[_Row] = []
    for r in reqs:
        try:
            rows.append(_Row(r, tokenizer, eos_ids))
        except Exception as exc:  # noqa: BLE001 - e.g. a seed torch cannot take: fails that request only
            settle(r.future, exc=exc)
    reqs = [row.req for row in rows]
    if not reqs:
        return
    lens = [len(r.input_ids) for r in reqs]
    width = max(lens)
    ids = torch.full((len(reqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(reqs), width), dtype=torch.long)
    for i, r in enumerate(reqs):
        ids[i, width - lens[i]:] = torch.tensor(r.input_ids, dtype=torch.long)
        mask[i, width - lens[i]:] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache()
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache, use_cache=True)
    last_pos = positions[:, -1:]
    steps = max(r.params.max_tokens for r in reqs)
    for _ in range(steps):
        logits = out.logits[:, -1, :].float()
        need_lp = any(r.params.logprobs for r in reqs)
        logp = torch.log_softmax(logits, dim=-1) if need_lp else None
        nxt = torch.full((len(reqs), 1), pad_id, dtype=torch.long)
        for i, row in enumerate(rows):
            if row.done:
                continue
            if row.req.cancelled.is_set():
                row.done = True
            else:
                try:
                    tid = row.choose(logits[i])
                    row.add(tid, logp[i] if logp is not None else None)
                except Exception as exc:  # noqa: BLE001 - this row fails alone
                    row.fail(exc)
                    continue
                nxt[i, 0] = tid
            if row.done:
                row.finish(lens[i])
        if all(r.done for r in rows):
            break
        mask = torch.cat([mask, torch.ones((len(reqs), 1), dtype=torch.long)], dim=1)
        last_pos = last_pos + 1
        out = model(input_ids=nxt, attention_mask=mask, position_ids=last_pos, past_key_values=cache, use_cache=True)
    for i, row in enumerate(rows):
        if not row.done:
            row.done = True
        row.finish(lens[i])

