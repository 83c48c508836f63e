"""One shard (district) of a large synthetic city: its random streams and its disjoint ranges of numbers.

A city of more than ``synth.shard_entities`` entities is generated as independent shards (synth/sharded.py). Shard
``k`` draws from its own streams (the city's keys with ``100 + k`` appended) and numbers everything it creates —
record ids, address and building keys, USCC organisation codes — inside ranges no other shard uses, so an id
cannot collide across shards by construction (``first`` refuses a count that would leave the range).
The whole city in one piece (``WHOLE``) keeps today's streams and numbering: a city at or below the shard size
is generated exactly as before sharding existed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# numbers of shard k lie in (k·STRIDE, (k+1)·STRIDE]: 10 million records of one kind per shard (a 500,000-entity
# shard over 36 months makes about 0.3 million of the most frequent kind)
STRIDE = 10**7
_USCC_BODIES = 10**8  # the 8 digits of the organisation-code body


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    @property
    def sharded(self) -> bool:
        return self.count > 1

    @property
    def base(self) -> int:
        return self.index * STRIDE

    def rng(self, seed: int, *key: int) -> np.random.Generator:
        """The stream ``[seed, *key]`` of this shard (``seed`` alone: the main stream)."""
        if not self.sharded:
            return np.random.default_rng([seed, *key] if key else seed)
        return np.random.default_rng([seed, *key, 100 + self.index])

    @property
    def uscc_bodies(self) -> tuple[int, int]:
        """The organisation-code bodies this shard draws from (low, high): disjoint across shards."""
        span = _USCC_BODIES // self.count
        return self.index * span, (self.index + 1) * span

    def first(self, count: int, what: str) -> int:
        """The number before the first of ``count`` numbers of kind ``what`` (numbered first + 1 …)."""
        if self.sharded and count > STRIDE:
            raise ValueError(f"shard {self.index}: {count:,} {what} exceed the {STRIDE:,} numbers of a shard")
        return self.base


WHOLE = Shard()
