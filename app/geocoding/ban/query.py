"""A query reduced to what BAN's ``/search`` takes: the text and its optional filters."""

from __future__ import annotations

import dataclasses

from app.codes import is_insee_code, is_postcode
from app.geocoding.base import AddressQuery, MatchType

# BAN (addok) rejects queries shorter than 3 characters and longer than 200.
MIN_QUERY_LEN = 3
MAX_QUERY_LEN = 200
MAX_LIMIT = 100
# BAN requires the query to start with a letter or a digit.
_EDGE_PUNCTUATION = " \t,;:.-_/\\'\"()[]#*"


@dataclasses.dataclass(frozen=True, slots=True)
class Prepared:
    """A query reduced to what BAN takes: the text and the optional filters."""

    q: str
    postcode: str | None
    citycode: str | None
    type: str | None

    def params(self, limit: int, *, with_postcode: bool = True) -> dict[str, str | int]:
        """The ``/search`` query parameters."""
        params: dict[str, str | int] = {"q": self.q, "limit": limit, "autocomplete": 0}
        if self.postcode and with_postcode:
            params["postcode"] = self.postcode
        if self.citycode:
            params["citycode"] = self.citycode
        if self.type:
            params["type"] = self.type
        return params


def prepare(query: AddressQuery) -> Prepared | None:
    """Normalise one query; ``None`` when there is nothing a search engine could match."""
    # Collapse whitespace (newlines would also break the CSV) and trim edge punctuation.
    text = " ".join(query.text().split()).strip(_EDGE_PUNCTUATION)
    if len(text) < MIN_QUERY_LEN:
        return None
    if len(text) > MAX_QUERY_LEN:
        # Longer queries are rejected outright (400/413); the address part is nearly always
        # at the start, so keep the first 200 characters, cut on a word boundary.
        cut = text[:MAX_QUERY_LEN]
        text = cut.rsplit(" ", 1)[0] if " " in cut else cut
    postcode = (query.code_postal or "").strip()
    citycode = (query.citycode or "").strip().upper()
    only_commune = not query.q and not query.voie and not query.numero
    return Prepared(
        q=text,
        postcode=postcode if is_postcode(postcode) else None,
        citycode=citycode if is_insee_code(citycode) else None,
        # Restrict to communes only when the caller gave nothing finer; a house number
        # query keeps every type so that BAN can fall back to the street.
        type=MatchType.MUNICIPALITY.value if only_commune else None,
    )


def clamp_limit(limit: int) -> int:
    """A candidate count BAN accepts (1..100)."""
    return max(1, min(MAX_LIMIT, int(limit)))
