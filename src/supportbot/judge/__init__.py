"""The LLM judge: pairwise win rate and hallucination rate of two answer files, calibrated on labels.

Entry point: ``python judge/run.py COMMAND`` = ``python -m supportbot.judge COMMAND`` (cli.py); the map of the
package is judge/README.md.
"""
