"""Grader kinds (base.Grader, looked up in registry.py): holistic (one prompt per verdict: pairwise.py,
hallucination.py) and checklist (yes/no checks per answer: checks.py); their prompts (prompting.py), the
answer sanitizer (sanitize.py), reply parsing (parse.py) and verdicts from replies (verdicts.py)."""
