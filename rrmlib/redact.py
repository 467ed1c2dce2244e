"""Keeping an API key out of text that a server or an exception hands back.

Some servers quote the key they refuse, and not always as it was sent: upper-cased, URL- or
JSON-escaped, inside a base64 ``Authorization`` value (``Bearer <key>``, ``user:<key>``), as hex,
or cut short. ``scrub`` removes every stretch of text that reads, under any of those decodings
and with case ignored, as ``PART`` or more consecutive characters of the key (the whole key when
it is shorter), so a message names no piece of the key long enough to matter under one layer of
those decodings (a key encoded twice over, or spaced out, is not looked for).
"""
from __future__ import annotations

import base64
import binascii
import re

PART = 10  # characters of the key that may not survive in any form (fewer: only the whole key)
MASK = "***"

# One character of text, possibly escaped: an HTML entity, a JSON/Python escape (\u002f, \x2f,
# \/, \\/), a percent-encoded byte (%2F), or the character itself.
_UNIT = re.compile(r"&#x([0-9a-f]{1,6});|&#([0-9]{1,7});|\\+u([0-9a-f]{4})|\\+x([0-9a-f]{2})|%([0-9a-f]{2})|"
                   r"\\+(.)|(.)", re.IGNORECASE | re.DOTALL)
_HEX_RUN = re.compile(r"[0-9a-fA-F]{2,}")
_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{4,}")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',;}\]]+")


def _units(text: str) -> tuple[str, list[tuple[int, int]]]:
    """``text`` with its escapes decoded, and each decoded character's span in ``text``."""
    chars, spans = [], []
    for m in _UNIT.finditer(text):
        hx, dec, u, x, pct, esc, plain = m.groups()
        try:
            c = (chr(int(hx, 16)) if hx else chr(int(dec)) if dec else chr(int(u or x or pct, 16))
                 if (u or x or pct) else esc if esc is not None else plain)
        except (ValueError, OverflowError):  # an entity beyond Unicode: not a character of the key
            c = "\0"
        chars.append(c)
        spans.append(m.span())
    return "".join(chars), spans


def _hex_views(text: str):
    """Each run of hex digits decoded (both ways of pairing its digits), with byte spans."""
    for m in _HEX_RUN.finditer(text):
        for start in (m.start(), m.start() + 1):
            n = (m.end() - start) // 2
            if n:
                data = bytes.fromhex(text[start:start + 2 * n])
                yield data.decode("latin-1"), [(start + 2 * i, start + 2 * i + 2) for i in range(n)]


def _b64_views(text: str):
    """Each run of base64 (standard or URL-safe) characters decoded at each of its 4 alignments:
    a value inside a longer encoded string (``user:<key>``) is found whatever precedes it."""
    for m in _B64_RUN.finditer(text):
        run = m.group().replace("-", "+").replace("_", "/")
        for off in range(4):
            part = run[off:]
            part = part[:len(part) - len(part) % 4] if len(part) % 4 == 1 else part + "=" * (-len(part) % 4)
            if len(part) < 4:
                continue
            try:
                data = base64.b64decode(part, validate=True)
            except (binascii.Error, ValueError):
                continue
            first = m.start() + off
            # byte i comes from the bits 8i..8i+7, held by characters 8i//6 .. (8i+7)//6
            yield data.decode("latin-1"), [(first + 8 * i // 6, first + (8 * i + 7) // 6 + 1) for i in range(len(data))]


def _mark(view: str, spans, grams: set[str], width: int, hidden: bytearray) -> None:
    low = view.lower()
    for i in range(len(low) - width + 1):
        if low[i:i + width] in grams:
            for s, e in spans[i:i + width]:
                hidden[s:e] = b"\1" * (e - s)


def scrub(text: str, secret: str | None) -> str:
    """``text`` with every trace of ``secret`` replaced by ``***`` (see the module's docstring),
    and whatever follows ``Bearer`` (a token the server saw, the key or not)."""
    text = str(text)
    if secret and len(secret) >= 4 and secret != "EMPTY":
        width = min(PART, len(secret))
        low = secret.lower()
        grams = {low[i:i + width] for i in range(len(low) - width + 1)}
        hidden = bytearray(len(text))
        _mark(text, [(i, i + 1) for i in range(len(text))], grams, width, hidden)  # a key with % or \ in it
        if any(c in text for c in "%&\\"):  # escapes to undo
            _mark(*_units(text), grams, width, hidden)
        for view, spans in (*_hex_views(text), *_b64_views(text)):
            _mark(view, spans, grams, width, hidden)
        if any(hidden):
            out, i = [], 0
            while i < len(text):
                if hidden[i]:
                    while i < len(text) and hidden[i]:
                        i += 1
                    out.append(MASK)
                else:
                    out.append(text[i])
                    i += 1
            text = "".join(out)
    return _BEARER.sub(r"\1" + MASK, text)
