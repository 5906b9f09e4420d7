"""supportbot: fine-tune a small LLM on tech-support conversations and measure the result."""

__version__ = "0.1.0"
