"""Sampling settings at the edges of what the schema allows (found by tests/test_serve_fuzz.py; fast, no model)."""

from __future__ import annotations

import pytest
import torch

from supportbot.serve.batching import GenParams, GenRequest, _Row


@pytest.mark.parametrize("temperature, top_p", [(5e-324, 1.0), (1e-6, 1.0), (1.0, 5e-324), (2.0, 1e-45), (1e-5, 0.5)])
def test_tiny_temperature_or_top_p_picks_a_valid_token(temperature, top_p):
    logits = torch.tensor([0.5, 3.0, -1.0, 2.9, 0.0])
    row = _Row(GenRequest([1], GenParams(max_tokens=1, temperature=temperature, top_p=top_p, seed=0)), None, set())
    assert row.choose(logits) == 1  # greedy, or sampling from a nucleus that holds just the top token
