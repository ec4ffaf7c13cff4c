"""The garbage collector's settings for the toolkit's own processes (the CLI and pool workers).

A CLI run or a pool worker imports torch, pandas, pyarrow and pydantic: about 200,000
long-lived objects the collector tracks. Under CPython's default thresholds (700, 10, 10) every tenth collection of the
middle generation walks all of them: four or five full collections during a `train` start-up,
about 0.3 s on the 2-core machine, that free nothing. Raising only the oldest generation's
threshold to 100 keeps the young collections as they are and still runs a full collection every
100 x 10 x 700 net allocations, so a long run keeps freeing reference cycles.

Library code never calls this: importing collective_action leaves a user's interpreter as it was.
"""

from __future__ import annotations

import gc

#: The oldest generation's threshold in the toolkit's own processes (CPython's default is 10).
FULL_COLLECTION_THRESHOLD = 100


def defer_full_collections() -> None:
    """Raise the oldest generation's threshold; the two younger ones keep their values."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_THRESHOLD)
