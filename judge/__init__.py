"""LLM-judge harness: pairwise win rate and hallucination rate, calibrated against a human rubric set.

Entry point: ``python judge/run.py --help``.
"""
