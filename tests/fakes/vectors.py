"""The vectors the embedding API fakes answer with."""

from __future__ import annotations

import hashlib

import numpy as np


def fake_vector(text: str, dimensions: int) -> list[float]:
    """Seeded by the text, so the same text always gets the same vector; deliberately not unit
    length (as the real models' reduced-width outputs are not), so clients must normalise."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return (np.random.default_rng(seed).normal(size=dimensions) * 3).tolist()
