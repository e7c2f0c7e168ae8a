"""French administrative codes: INSEE commune codes, postcodes, départements, arrondissements.

The one place these rules live; the spatial core, the geocoders and the address checks all
ask here.
"""

from __future__ import annotations

import re

from app.divisions import AdminDivisions

# INSEE commune code: five digits, or 2A/2B + three digits in Corsica.
INSEE_CODE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$", re.ASCII)
POSTCODE = re.compile(r"^\d{5}$", re.ASCII)

# Départements of the hexagone and Corsica (20 was split into 2A and 2B in 1976).
METRO_DEPARTEMENTS = frozenset([f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B"])
# Overseas départements (DROM) and collectivities (COM) with a three-digit INSEE code.
OVERSEAS_DEPARTEMENTS = frozenset({"971", "972", "973", "974", "976"})
OVERSEAS_COLLECTIVITIES = frozenset({"975", "977", "978", "986", "987", "988"})
DEPARTEMENTS = METRO_DEPARTEMENTS | OVERSEAS_DEPARTEMENTS | OVERSEAS_COLLECTIVITIES

# Paris, Marseille and Lyon: BAN answers with arrondissement codes, QPV files with the commune.
ARRONDISSEMENTS: dict[str, tuple[str, ...]] = {
    "75056": tuple(f"751{i:02d}" for i in range(1, 21)),
    "13055": tuple(f"132{i:02d}" for i in range(1, 17)),
    "69123": tuple(f"6938{i}" for i in range(1, 10)),
}
_CITY_OF_ARRONDISSEMENT = {a: city for city, arrs in ARRONDISSEMENTS.items() for a in arrs}
# "Paris 18ème arrondissement", "lyon 8e arrondissement": the suffix that names one.
ARRONDISSEMENT_SUFFIX = re.compile(r"\s+\d+\s*(?:er|e|ème|eme)?\s+arrondissement$", re.IGNORECASE)


def is_insee_code(code: str) -> bool:
    """Whether ``code`` has the shape of an INSEE commune code (93010, 2A004, 97411)."""
    return INSEE_CODE.match(code) is not None


def is_postcode(code: str) -> bool:
    """Whether ``code`` can be a French postcode: five digits, a possible département prefix."""
    if not POSTCODE.match(code):
        return False
    # Postcodes start with the département number: 01-95 (20 for Corsica), 97x/98x overseas.
    prefix = int(code[:2])
    return 1 <= prefix <= 95 or prefix in (97, 98)


def departement_of_citycode(citycode: str) -> str:
    """The département of an INSEE commune code: 93010 -> 93, 2A004 -> 2A, 97411 -> 974."""
    return citycode[:3] if citycode.startswith(("97", "98")) else citycode[:2]


def departement_of_padded(code: str) -> str:
    """A three-character département as in QPV codes to its usual form: 075 -> 75, 02A -> 2A."""
    return code[1:] if code.startswith("0") else code


def commune_code(citycode: str) -> str:
    """The commune of an INSEE code: arrondissements of Paris, Marseille, Lyon -> the city."""
    return _CITY_OF_ARRONDISSEMENT.get(citycode, citycode)


def arrondissement_postcode(city: str, number: int) -> str | None:
    """The postcode of arrondissement ``number`` of Paris, Lyon or Marseille named ``city``
    ("PARIS CEDEX 07": the CEDEX office number is the arrondissement), else None."""
    bounds = _ARRONDISSEMENT_POSTCODES.get(city.strip().lower())
    if bounds is None or not 1 <= number <= bounds[1]:
        return None
    return f"{bounds[0]}{number:02d}" if bounds[0] != "6900" else f"{bounds[0]}{number}"


# City name -> (postcode prefix, number of arrondissements).
_ARRONDISSEMENT_POSTCODES = {"paris": ("750", 20), "marseille": ("130", 16), "lyon": ("6900", 9)}


def postcode_problem(code: str, divisions: AdminDivisions | None = None) -> str | None:
    """Why ``code`` is not a postcode in use, or None; without the administrative divisions
    only its shape and département prefix can be checked."""
    if not is_postcode(code):
        return "is not a French postcode"
    if divisions is not None and not divisions.knows_postcode(code):
        return (
            f"does not exist (La Poste postcodes, administrative divisions {_of(divisions)}); "
            "a CEDEX code is accepted when the commune says so (commune=PARIS CEDEX 07)"
        )
    return None


def citycode_problem(code: str, divisions: AdminDivisions | None = None) -> str | None:
    """Why ``code`` is not an INSEE commune code, current or former, or None; without the
    administrative divisions only its shape can be checked."""
    if not is_insee_code(code):
        return "is not an INSEE commune code"
    if divisions is not None and not divisions.knows_citycode(code):
        return (
            "is not an INSEE commune code, current or former "
            f"(administrative divisions {_of(divisions)})"
        )
    return None


def _of(divisions: AdminDivisions) -> str:
    return divisions.info.version
