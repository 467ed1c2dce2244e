"""Per-item randomness that every process agrees on.

Python's ``hash()`` of a string is salted per process (the original evaluation seeded its
position swaps and coin flips with it, so no run could be repeated); sha256 is not.
"""
from __future__ import annotations

import hashlib


def stable_int(*parts) -> int:
    """A 32-bit integer from ``parts`` (their ``str``), the same in every process and platform."""
    text = "\x00".join(map(str, parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")
