"""Fast unit tests (no model, no server): request validation, settings, stop-string hold-back."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from supportbot.serve.batching import _held_back
from supportbot.serve.schemas import AskRequest, ChatCompletionRequest
from supportbot.serve.settings import settings_from_args

MSG = [{"role": "user", "content": "hi"}]


def test_minimal_request_defaults():
    r = ChatCompletionRequest(messages=MSG)
    assert (r.n, r.stream, r.logprobs, r.requested_max_tokens(), r.stop_list()) == (1, False, False, None, [])


@pytest.mark.parametrize("body, field", [
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "role"),
    ({"messages": MSG, "n": 2}, "n"),
    ({"messages": MSG, "temperature": -0.1}, "temperature"),
    ({"messages": MSG, "top_p": 0}, "top_p"),
    ({"messages": MSG, "max_tokens": 0}, "max_tokens"),
    ({"messages": MSG, "top_logprobs": 21, "logprobs": True}, "top_logprobs"),
    ({"messages": MSG, "top_logprobs": 3}, "top_logprobs needs logprobs"),
    ({"messages": MSG, "stop": ["a", "b", "c", "d", "e"]}, "at most 4"),
    ({"messages": MSG, "stop": [""]}, "non-empty"),
    ({"messages": MSG, "frequency_penalty": 0.5}, "frequency_penalty"),
    ({"messages": MSG, "max_tokens": 5, "max_completion_tokens": 6}, "disagree"),
    ({"messages": MSG, "stream_options": {"include_usage": True}}, "stream_options"),
])
def test_bad_requests_name_the_problem(body, field):
    with pytest.raises(ValidationError) as exc:
        ChatCompletionRequest.model_validate(body)
    assert field in str(exc.value)


def test_stop_string_becomes_list_and_max_completion_tokens_alias():
    r = ChatCompletionRequest.model_validate({"messages": MSG, "stop": "\n", "max_completion_tokens": 7})
    assert r.stop_list() == ["\n"] and r.requested_max_tokens() == 7


def test_ask_needs_question():
    with pytest.raises(ValidationError):
        AskRequest.model_validate({"question": ""})


def test_settings_need_exactly_one_backend(monkeypatch, capsys):
    monkeypatch.delenv("SUPPORTBOT_API_KEY", raising=False)
    with pytest.raises(SystemExit):
        settings_from_args([])
    with pytest.raises(SystemExit):
        settings_from_args(["--model", "a=x", "--upstream", "http://127.0.0.1:1/v1"])
    with pytest.raises(SystemExit):
        settings_from_args(["--model", "a=x", "--model", "a=y"])
    assert "unique" in capsys.readouterr().err
    s, _ = settings_from_args(["--model", "base=x", "--model", "tuned=y", "--max-tokens-cap", "100"])
    assert list(s.models) == ["base", "tuned"] and s.host == "127.0.0.1" and s.api_key is None
    assert s.default_max_tokens == 100  # never above the cap


def test_api_key_from_env_is_secret(monkeypatch):
    monkeypatch.setenv("SUPPORTBOT_API_KEY", "s3cret-value")
    s, _ = settings_from_args(["--model", "base=x"])
    assert s.api_key.get_secret_value() == "s3cret-value"
    assert "s3cret-value" not in repr(s) and "s3cret-value" not in str(s.model_dump())


@pytest.mark.parametrize("text, stops, hold", [
    ("Hello", (), 0),
    ("Hello wor", ("world",), 3),
    ("Hello", ("###",), 0),
    ("Step 1#", ("##",), 1),
    ("caf\ufffd", (), 1),
    ("ab\ufffd\ufffd", ("zz",), 2),
])
def test_held_back(text, stops, hold):
    assert _held_back(text, stops) == hold
