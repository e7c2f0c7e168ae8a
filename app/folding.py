"""Accent and case folding of French text, the one rule for every comparison of names."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Mojibake: UTF-8 read as Windows-1252 (seen in real BAN exports: "AllÃ©e", "lâ€™").
_MOJIBAKE = re.compile(
    "[ÃÂâ][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u203a\u20ac\u2122]"
)
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def fix_mojibake(text: str) -> str:
    """Repair UTF-8 text that was decoded as Windows-1252 ("AllÃ©e" -> "Allée")."""
    if not _MOJIBAKE.search(text):
        return text
    for codec in ("cp1252", "latin-1"):
        try:
            return text.encode(codec).decode("utf-8")
        except UnicodeError:
            continue
    return text


# The combining marks of U+0300-U+036F (every accent of French text once decomposed), to
# delete in one str.translate; marks elsewhere are rare and removed one by one.
_COMMON_MARKS = {c: None for c in range(0x300, 0x370) if unicodedata.combining(chr(c))}


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower case, no accents, ligatures split, every non-alphanumeric run to one space."""
    if text.isascii():
        # Nothing to repair, decompose or strip (most addresses as typed): the same result.
        return _NON_ALNUM.sub(" ", text.lower()).strip()
    text = fix_mojibake(text).lower()
    text = text.replace("œ", "oe").replace("æ", "ae").replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text).translate(_COMMON_MARKS)
    if not text.isascii():
        text = "".join(c for c in text if not unicodedata.combining(c))
    return _NON_ALNUM.sub(" ", text).strip()
