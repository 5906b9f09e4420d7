"""The dev / test split of the calibration labels, by eval item (an item's rows never straddle the split).

Prompt wording and few-shot examples are tuned on ``dev`` only; agreement is reported on ``test``
(with thresholds and margins cross-validated inside it). About 30 % of items are dev.
"""

from __future__ import annotations

import hashlib
from typing import Literal

Split = Literal["dev", "test", "all"]
DEV_SHARE = 3  # of 10 buckets


def split_of(item_id: str) -> Literal["dev", "test"]:
    """"dev" for about 30 % of eval item ids (a fixed sha256 bucket), else "test"."""
    return "dev" if int(hashlib.sha256(item_id.encode()).hexdigest(), 16) % 10 < DEV_SHARE else "test"


def in_split(item_id: str, split: Split) -> bool:
    return split == "all" or split_of(item_id) == split
