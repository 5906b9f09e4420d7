"""Label-sheet tooling of label set v2: blind sheets, annotations, agreement and final labels.

CLI: ``python judge/run.py label-sheets --help``.
"""
