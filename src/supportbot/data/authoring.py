"""Read data/authoring/*.yaml, validate it, and expand scenarios into conversations."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .issues import DataError, Issue, loc_to_field, pydantic_problems
from .schema import AuthoringEvalItem, Scenario
from .yaml_lines import line_of, load_yaml_with_nodes


@dataclass
class Located:
    """A validated authoring item with the file and line it came from."""

    item: Any
    file: str
    line: int


def _load_list(path: Path, model: type[BaseModel], issues: list[Issue]) -> list[Located]:
    try:
        data, node = load_yaml_with_nodes(path)
    except DataError as exc:
        issues.extend(exc.issues)
        return []
    if data is None:
        return []
    if not isinstance(data, list):
        issues.append(Issue(str(path), 1, "row", f"top level must be a YAML list, got {type(data).__name__}"))
        return []
    out: list[Located] = []
    for i, raw in enumerate(data):
        line = line_of(node, (i,))
        if not isinstance(raw, dict):
            issues.append(Issue(str(path), line, "row", f"expected a mapping, got {type(raw).__name__}"))
            continue
        try:
            item = model.model_validate(raw)
        except ValidationError as exc:
            for loc, problem in pydantic_problems(exc):
                issues.append(Issue(str(path), line_of(node, (i,) + loc), loc_to_field(loc), problem))
            continue
        out.append(Located(item, str(path), line))
    return out


@dataclass
class Authoring:
    scenarios: list[Located]
    eval_items: list[Located]


def load_authoring(authoring_dir: Path, kb_dir: Path) -> Authoring:
    """Load and check every authoring file; raise :class:`DataError` listing all problems."""
    issues: list[Issue] = []
    files = sorted(authoring_dir.glob("*.yaml"))
    if not files:
        raise DataError([Issue(str(authoring_dir), 0, "row", "no *.yaml authoring files found")])
    scenarios: list[Located] = []
    eval_items: list[Located] = []
    for path in files:
        if path.name.startswith("eval_"):
            eval_items += _load_list(path, AuthoringEvalItem, issues)
        else:
            scenarios += _load_list(path, Scenario, issues)
    seen: dict[str, Located] = {}
    for loc in scenarios + eval_items:
        first = seen.setdefault(loc.item.id, loc)
        if first is not loc:
            issues.append(Issue(loc.file, loc.line, "id", f"duplicate id {loc.item.id!r} (first at {first.file}:{first.line})"))
        for ref in loc.item.kb_refs:
            if not (kb_dir / ref).is_file():
                issues.append(Issue(loc.file, loc.line, "kb_refs", f"KB file not found: {kb_dir / ref}"))
    openers: dict[str, Located] = {}
    for loc in scenarios:
        for opener in all_openers(loc.item):
            first = openers.setdefault(normalize(opener), loc)
            if first is not loc:
                issues.append(Issue(loc.file, loc.line, "openers",
                                    f"opener {opener[:40]!r} repeats one of {first.item.id} ({first.file}:{first.line})"))
    if issues:
        raise DataError(issues)
    return Authoring(scenarios, eval_items)


def all_openers(scenario: Scenario) -> list[str]:
    """The scenario's openers and its clarifying replies' direct-answer openers."""
    direct = [o for r in scenario.clarify.replies for o in r.direct] if scenario.clarify else []
    return scenario.openers + direct


def normalize(text: str) -> str:
    """Lowercase, punctuation stripped, whitespace collapsed."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def expand(scenario: Scenario, system_prompt: str) -> list[list[dict[str, str]]]:
    """Conversations of one scenario (opener i -> one conversation; clarify uses reply i % n)."""
    system = {"role": "system", "content": system_prompt}
    convs = []
    for i, opener in enumerate(scenario.openers):
        conv = [system, {"role": "user", "content": opener.strip()}]
        if scenario.answer is not None:
            conv.append({"role": "assistant", "content": scenario.answer.strip()})
        else:
            assert scenario.clarify is not None
            reply = scenario.clarify.replies[i % len(scenario.clarify.replies)]
            conv += [
                {"role": "assistant", "content": scenario.clarify.question.strip()},
                {"role": "user", "content": reply.user.strip()},
                {"role": "assistant", "content": reply.answer.strip()},
            ]
        convs.append(conv)
    return convs


def eval_row(item: AuthoringEvalItem) -> dict[str, Any]:
    """The eval.jsonl row of an authoring eval item (texts stripped)."""
    row = item.model_dump()
    row["messages"] = [{"role": m["role"], "content": m["content"].strip()} for m in row["messages"]]
    row["reference_answer"] = row["reference_answer"].strip()
    row["key_facts"] = [s.strip() for s in row["key_facts"]]
    row["forbidden_claims"] = [s.strip() for s in row["forbidden_claims"]]
    return row
