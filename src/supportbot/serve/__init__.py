"""supportbot.serve: the FastAPI support service (OpenAI-compatible chat API, /ask, web chat page).

Start it (in-process transformers backend, one or more local model folders by name)::

    python -m supportbot.serve --model base=models/smollm2-135m-instruct --model tuned=outputs/<run>/merged

or in front of an OpenAI-compatible upstream such as vLLM::

    python -m supportbot.serve --upstream http://127.0.0.1:8000/v1

Submodules (importing this package stays light: nothing here imports torch or FastAPI):

* ``supportbot.serve.process``: ``ServerProcess``, start/stop any HTTP server in the background and
  wait for readiness (stdlib only).
* ``supportbot.serve.app``: ``create_app(settings, backend, kb=None)``, the FastAPI factory.
* ``supportbot.serve.ask``: ``POST /ask`` requests and answers, with KB passages when retrieval is on (``--kb``).
* ``supportbot.serve.settings``: ``Settings`` (pydantic) and the CLI parser.
* ``supportbot.serve.backends``: ``TransformersBackend`` (in-process, ``backend_transformers``) and
  ``UpstreamBackend`` (httpx, ``backend_upstream``); their errors in ``backend_errors``.
* ``supportbot.serve.batching``: ``BatchWorker``, batches concurrent requests through one ``generate``;
  ``decode`` (the batched decode loop) and ``gen_records`` (request/result records).
* ``supportbot.serve.schemas``: the OpenAI chat-completions subset as pydantic models.
"""
