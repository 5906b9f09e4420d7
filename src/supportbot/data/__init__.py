"""Data tools: schema, build from authoring YAML, validation, converters, leakage check, statistics.

Run ``python -m supportbot.data --help`` for the subcommands.
"""
