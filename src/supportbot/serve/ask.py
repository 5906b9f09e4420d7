"""``POST /ask``: one support question, answered with the support system prompt, optionally with KB passages.

With retrieval on (the service started with ``--kb``, or ``"kb": true`` in the request where the service has an
index), the passages retrieved for the question are written into the system prompt (prompts/support_kb.txt)
and returned with the answer, so a caller sees what the answer was based on.
"""

from __future__ import annotations

import threading
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from supportbot.serve.schemas import AskPassage, AskRequest, AskResponse, ChatCompletionRequest, ChatMessage

if TYPE_CHECKING:
    from supportbot.kb_prompt import KbPrompter

_RETRIEVAL_LOCK = threading.Lock()  # one query embedding at a time (requests arrive on worker threads)


class RetrievalOffError(ValueError):
    """A request asked for KB passages from a service started without ``--kb``."""


def ask_request(body: AskRequest, system_prompt: str, kb: KbPrompter | None) -> tuple[ChatCompletionRequest, list[AskPassage] | None]:
    """The chat request for an /ask body, and the passages put into its prompt (None: retrieval off)."""
    use_kb = kb is not None if body.kb is None else body.kb
    if use_kb and kb is None:
        raise RetrievalOffError("retrieval is off on this service: start it with --kb to answer with KB passages")
    question = [{"role": "user", "content": body.question}]
    passages = None
    if use_kb:
        with _RETRIEVAL_LOCK:
            system_prompt, used = kb.system_prompt(system_prompt, question)
        passages = [AskPassage(**asdict(u)) for u in used]
    req = ChatCompletionRequest(model=body.model, temperature=0.0, max_tokens=body.max_tokens,
                                messages=[ChatMessage(role="system", content=system_prompt),
                                          ChatMessage(role="user", content=body.question)])
    return req, passages


def ask_response(data: dict[str, Any], passages: list[AskPassage] | None) -> AskResponse:
    """An /ask answer from the chat completion ``data``."""
    choice = data["choices"][0]
    return AskResponse(answer=choice["message"]["content"] or "", model=data["model"],
                       finish_reason=choice.get("finish_reason"),
                       completion_tokens=(data.get("usage") or {}).get("completion_tokens"), passages=passages)
