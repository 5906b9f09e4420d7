"""Where answers come from: local model folders in this process, or an OpenAI-compatible upstream.

Both backends give the app the same async interface (``list_models``, ``count_input_tokens``,
``context_length``, ``chat`` returning an OpenAI ``chat.completion`` dict, ``stream`` yielding
``chat.completion.chunk`` dicts) and raise ``QueueFullError`` (-> 503), ``UnknownModelError`` (-> 404),
``InvalidPromptError`` (-> 422), ``UpstreamHTTPError`` (the upstream's own status) or
``UpstreamUnavailableError`` (-> 502: nothing answers at the upstream URL, or it broke the connection).

``TransformersBackend`` also has a synchronous ``generate`` used by ``demo.py`` and the benchmark.

The two backends live in ``supportbot.serve.backend_transformers`` and ``supportbot.serve.backend_upstream``,
their errors in ``supportbot.serve.backend_errors``; every name is re-exported here.
"""

from __future__ import annotations

from supportbot.serve.backend_errors import (
    InvalidPromptError,
    ModelLoadError,
    UnknownModelError,
    UpstreamHTTPError,
    UpstreamUnavailableError,
)
from supportbot.serve.backend_transformers import (
    TransformersBackend,
    load_model,
    model_context,
    params_from_request,
)
from supportbot.serve.backend_upstream import UPSTREAM_KEY_ENV, UpstreamBackend, _body, _json_object
from supportbot.serve.batching import QueueFullError

__all__ = ["TransformersBackend", "UpstreamBackend", "QueueFullError", "UnknownModelError", "UpstreamHTTPError",
           "UpstreamUnavailableError", "InvalidPromptError", "ModelLoadError", "params_from_request",
           "UPSTREAM_KEY_ENV", "load_model", "model_context", "_body", "_json_object"]
