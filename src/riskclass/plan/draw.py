"""The random draw of a 双随机 plan: how many per stratum, which ones, and with what probability.

Every draw is a simple random sample without replacement inside one stratum (an item × a class, or
a directed filter). Membership is decided by **hash ranks**: each candidate's key is
``sha256("<seed>:<draw id>:<uscc>")`` and the ``n`` smallest keys are drawn. So the draw depends only
on the published seed, the draw id and the candidate list — anyone with the plan's inputs can re-derive
it without this code or a particular random-number library — and the inclusion probability of every
candidate is exactly ``n / N``. Separate draws use separate keys, hence are independent, which gives the
exact combined probability ``1 − Π(1 − π_d)`` for an entity in several draws of one item.
"""

from __future__ import annotations

import hashlib
import hmac
import math

import numpy as np

DRAW_KEY_ENV = "RISKCLASS_DRAW_KEY_FILE"


def derive_seed(plan_id: str, plan_date: str, published_value: str = "", key: bytes | None = None) -> tuple[str, str]:
    """The seed text and the seed: the first 16 hex digits of HMAC-SHA256(key, text), or of SHA-256(text) unkeyed.

    Unkeyed, anyone holding the published list can recompute the seed from public values and read each
    listed entity's class stratum off its hash rank; with the bureau's draw key (keys.py) only the
    holders of the key — the bureau and its auditors — can re-derive and verify the draw.
    """
    text = f"{plan_id}|{plan_date}|{published_value}"
    if key:
        return text, hmac.new(key, text.encode("utf-8"), "sha256").hexdigest()[:16]
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def hash_keys(seed: str, draw_id: str, uscc: np.ndarray) -> np.ndarray:
    """Uniform 60-bit sort keys, one per candidate (the text hashed is UTF-8)."""
    prefix, sha256, from_bytes = f"{seed}:{draw_id}:".encode(), hashlib.sha256, int.from_bytes
    # the first 15 hex digits of the digest = its first 60 bits (bytes, not hex text: half the time per key)
    return np.fromiter(
        (from_bytes(sha256(prefix + u.encode("utf-8")).digest()[:8], "big") >> 4 for u in uscc),
        dtype=np.int64,
        count=len(uscc),
    )


def draw_n(seed: str, draw_id: str, uscc: np.ndarray, n: int) -> np.ndarray:
    """Boolean mask of the ``n`` candidates with the smallest hash keys."""
    chosen = np.zeros(len(uscc), dtype=bool)
    if n >= len(uscc):
        chosen[:] = True
    elif n > 0:
        chosen[np.argpartition(hash_keys(seed, draw_id, uscc), n - 1)[:n]] = True
    return chosen


def target_counts(sizes: np.ndarray, ratios: np.ndarray, floors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per stratum: (floor count, target count). A non-empty stratum with a positive floor always gets at
    least one draw (不免抽); targets never fall below floors."""
    sizes = np.asarray(sizes, dtype=np.int64)
    floor_n = np.minimum(sizes, np.ceil(np.round(floors * sizes, 9)).astype(np.int64))
    target = np.minimum(sizes, np.maximum(floor_n, np.floor(ratios * sizes + 0.5).astype(np.int64)))
    return floor_n, target


def _boundary(reached, lo: float, hi: float, steps: int) -> tuple[float, float]:
    """Bisect [lo, hi], where ``reached`` is monotone, false at ``lo`` and true at ``hi``; return the
    narrowed (lo, hi)."""
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if reached(mid) else (mid, hi)
    return lo, hi


def uplift(counts: np.ndarray, sizes: np.ndarray, minimum: int) -> tuple[np.ndarray, float]:
    """Scale ``counts`` up by one common factor (capped by stratum sizes) until they sum to ``minimum``;
    returns the new counts and the factor (1.0 when already enough)."""
    counts, sizes = np.asarray(counts, dtype=np.int64), np.asarray(sizes, dtype=np.int64)
    minimum = min(int(minimum), int(sizes.sum()))
    if counts.sum() >= minimum or counts.sum() == 0:  # zero only if every floor is zero, which params forbid
        return counts, 1.0

    def scaled(s: float) -> np.ndarray:
        return np.minimum(sizes, np.maximum(counts, np.ceil(counts * s - 1e-9).astype(np.int64)))

    hi = 2.0
    while scaled(hi).sum() < minimum:
        hi *= 2
    _, hi = _boundary(lambda s: scaled(s).sum() >= minimum, 1.0, hi, 60)
    return scaled(hi), hi


def scaled_counts(floor_n: np.ndarray, target: np.ndarray, share: float | np.ndarray) -> np.ndarray:
    """Targets reduced to ``share`` of themselves, never below the floors."""
    return np.maximum(floor_n, np.floor(share * target + 1e-9).astype(np.int64))


def smallest_share(floor_n: np.ndarray, target: np.ndarray, minimum: int) -> float:
    """Smallest share of the targets that still draws ``minimum`` in total (the item's overall floor)."""
    if scaled_counts(floor_n, target, 0.0).sum() >= minimum:
        return 0.0
    return _boundary(lambda s: scaled_counts(floor_n, target, s).sum() >= minimum, 0.0, 1.0, 50)[1]


def fit_capacity(
    floor_n: np.ndarray, target: np.ndarray, min_share: np.ndarray, capacity: int
) -> tuple[np.ndarray, float]:
    """One common share λ ≤ 1 of every target (but each stratum at least its floor and its item's minimum
    share) so that the total fits ``capacity``. Returns (counts, λ); λ = 1 when the targets fit."""

    def counts(share: float) -> np.ndarray:
        return scaled_counts(floor_n, target, np.maximum(share, min_share))

    if counts(1.0).sum() <= capacity:
        return counts(1.0), 1.0
    share, _ = _boundary(lambda s: counts(s).sum() > capacity, 0.0, 1.0, 50)
    return counts(share), share


def class_allocation(
    sizes: np.ndarray, ratios: np.ndarray, floors: np.ndarray, min_overall_ratio: float
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Counts per class stratum of one item: (floors, targets after the overall minimum, the uplift factor,
    the smallest share of the targets that still meets the overall minimum)."""
    floor_n, target = target_counts(sizes, ratios, floors)
    minimum = math.ceil(round(min_overall_ratio * int(np.sum(sizes)), 9))
    target, factor = uplift(target, sizes, minimum)
    return floor_n, target, factor, smallest_share(floor_n, target, minimum)


def combined_probability(probabilities: list[np.ndarray]) -> np.ndarray:
    """Inclusion probability of independent draws together: 1 − Π(1 − π)."""
    miss = np.ones_like(probabilities[0], dtype=float)
    for p in probabilities:
        miss *= 1.0 - p
    return 1.0 - miss
