"""YAML loading that remembers the line of every node, so errors can name ``file:line``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .issues import DataError, Issue, loc_to_field


def load_yaml_with_nodes(path: Path) -> tuple[Any, yaml.Node | None]:
    """Return ``(data, root_node)``; YAML syntax errors and duplicate keys raise :class:`DataError`."""
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise DataError([Issue(str(path), line, "yaml", f"{exc.problem}")]) from None
    if node is not None:
        dups = list(_duplicate_keys(node, ()))
        if dups:
            raise DataError([Issue(str(path), line, loc_to_field(loc), "duplicate key") for loc, line in dups])
    return data, node


def _duplicate_keys(node: yaml.Node, loc: tuple[int | str, ...]):
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            if k.value in seen:
                yield loc + (k.value,), k.start_mark.line + 1
            seen.add(k.value)
            yield from _duplicate_keys(v, loc + (k.value,))
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            yield from _duplicate_keys(v, loc + (i,))


def line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int:
    """1-based line of the deepest node on ``loc``: a list item's first line, a key's line; a missing
    key gives the line of the mapping that lacks it."""
    if node is None:
        return 1
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        elif isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if k.value == part]
            if not match:
                break
            key, node = match[0]
            line = key.start_mark.line + 1
        else:
            break
    return line
