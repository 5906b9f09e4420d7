"""Mean negative log-likelihood of the final assistant turn: a judge-free, trainer-independent loss."""

from __future__ import annotations

from typing import Any


def assistant_nll(model: Any, tokenizer: Any, conversations: list[list[dict[str, str]]]) -> float:
    """Mean per-token NLL of each conversation's last (assistant) message given everything before it.

    Tokens are those of the tokenizer's chat template; the prompt part (all earlier turns plus the
    assistant header) is masked, so only the answer's tokens count, as in Axolotl's
    ``roles_to_train: [assistant]`` for the last turn.
    """
    import torch

    total, count = 0.0, 0
    model.eval()
    for messages in conversations:
        if not messages or messages[-1]["role"] != "assistant":
            raise ValueError("each conversation must end with an assistant message")
        prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(messages, tokenize=False)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        full_ids = tokenizer(full, add_special_tokens=False)["input_ids"]
        if full_ids[: len(prompt_ids)] != prompt_ids:
            raise ValueError("chat template is not prefix-stable; cannot mask the prompt")
        ids = torch.tensor([full_ids])
        labels = ids.clone()
        labels[:, : len(prompt_ids)] = -100
        with torch.no_grad():
            logits = model(input_ids=ids).logits[:, :-1]
        target = labels[:, 1:]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1), ignore_index=-100, reduction="sum")
        total += float(loss)
        count += int((target != -100).sum())
    return total / max(count, 1)
