"""Seeded, grouped, stratified train/dev split."""

from __future__ import annotations

import random
from collections import defaultdict


def grouped_split(
    groups: list[tuple[str, str, int]], *, dev_fraction: float, seed: int
) -> set[str]:
    """Pick the dev groups.

    ``groups`` is ``(group_id, stratum, size)``; every group goes wholly to one split. Within each
    stratum (sorted), groups are shuffled with ``random.Random(seed)`` and added to dev while that
    brings the stratum's dev size closer to ``dev_fraction`` of its size. Same input, same output.
    """
    if not 0 <= dev_fraction < 1:
        raise ValueError(f"dev_fraction must be in [0, 1), got {dev_fraction}")
    rng = random.Random(seed)
    by_stratum: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for gid, stratum, size in groups:
        by_stratum[stratum].append((gid, size))
    dev: set[str] = set()
    for stratum in sorted(by_stratum):
        members = sorted(by_stratum[stratum])
        rng.shuffle(members)
        target = dev_fraction * sum(size for _, size in members)
        got = 0
        for gid, size in members:
            if abs(got + size - target) < abs(got - target):
                dev.add(gid)
                got += size
    return dev
