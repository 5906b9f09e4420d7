"""Talking to a judge: its config (config.py), the OpenAI-compatible client with retries (client.py), the
response cache (cache.py) and the local server a config can launch (launch.py)."""
