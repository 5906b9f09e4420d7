"""A retrieval-on request through the real service (``--kb``, real base model, real hybrid index) (slow)."""

from __future__ import annotations

import httpx
import pytest

from supportbot.paths import DATA_DIR
from supportbot.serve.process import ServerProcess

pytestmark = pytest.mark.slow


def test_ask_with_retrieval_returns_the_passages_used(base_model_dir) -> None:
    with ServerProcess.supportbot(models={"base": base_model_dir}, extra_args=["--kb", "--max-tokens-cap", "32"],
                                  name="test-serve-kb", extra_env={"SUPPORTBOT_API_KEY": ""}) as srv:
        root = srv.base_url.removesuffix("/v1")
        assert httpx.get(f"{root}/config", timeout=30).json()["kb"] is True
        r = httpx.post(f"{root}/ask", json={"question": "My SR-300 router shows a solid red light. What now?",
                                            "max_tokens": 16}, timeout=300)
        assert r.status_code == 200, r.text
        body = r.json()
        assert isinstance(body["answer"], str) and body["model"] == "base" and 0 < body["completion_tokens"] <= 16
        passages = body["passages"]
        assert [p["rank"] for p in passages] == [1, 2, 3]
        assert all((DATA_DIR / "kb" / p["source"]).is_file() and p["heading"].startswith(p["source"]) for p in passages)
        assert any(p["source"].startswith("sr-300") for p in passages)
        off = httpx.post(f"{root}/ask", json={"question": "hello", "max_tokens": 4, "kb": False}, timeout=300)
        assert off.status_code == 200 and off.json()["passages"] is None
