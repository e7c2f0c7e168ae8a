"""A French sound key for street names: "polonso" and "polonceau" meet on "polonso".

Spelling by ear ("Polonso", "Marcadé", "Filippe") is a kind of typo that edit distance
punishes hard (four edits from "Polonceau"); the sound key turns those spellings into the
same or a close string. Input: an already normalised matching key (folded, lower case).
"""

from __future__ import annotations

import re
from functools import lru_cache

# Order matters: multi-letter spellings first, then single letters, then doubled letters.
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"ph", "f"),
        (r"qu|ck|cq", "k"),
        (r"gu(?=[eiy])", "\u00a7"),  # the hard g of "guerre", kept from the next rule
        (r"g(?=[eiy])", "j"),
        (r"\u00a7", "g"),
        (r"c(?=[eiy])", "s"),
        (r"ch", "\u00a7"),  # "ch" kept from the "c" -> "k" rule
        (r"c", "k"),
        (r"\u00a7", "ch"),
        (r"eaux?|aux?", "o"),
        (r"(?<![cs])h", ""),
        (r"y", "i"),
        (r"z", "s"),
        (r"(?<=[aeiou])s(?=[aeiou])", "z"),
        (r"ai|ei|et\b|er\b|ez\b", "e"),
        (r"o(?:t|ts|s|x|d)\b", "o"),
        (r"([bcdfgjklmnpqrstvwxz])\1+", r"\1"),
        (r"(?<=\w\w)[stxd]\b", ""),
        (r"(?<=\w\w)e\b", ""),
    )
)


@lru_cache(maxsize=262144)
def sound_key(key: str) -> str:
    """The sound key of a normalised street key."""
    text = key
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text
