"""The judge-free reference check: answers vs eval references by sentence embeddings (`judge/run.py reference`)."""
