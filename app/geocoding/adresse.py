"""API Adresse's vocabulary for a candidate: its feature properties and its CSV columns.

API Adresse (addok with the BAN's configuration, served by addok-server) answers each
candidate with ``name`` (the number and the street, or the street, or the commune),
``street``, ``district`` (the arrondissement of Paris, Lyon, Marseille), ``context``
("93, Seine-Saint-Denis, Île-de-France") and, in CSV, one ``result_<property>`` column per
property in a fixed order. The order below is API Adresse's (checked against addok,
addok-csv, addok-france and addok-geocode-stream, and against the real addok of the tests).
"""

from __future__ import annotations

from app.codes import ARRONDISSEMENTS, departement_of_citycode
from app.geocoding.base import Candidate, MatchType

# POST /search/csv: appended to every row, in this order.
SEARCH_CSV_COLUMNS = (
    "latitude",
    "longitude",
    "result_label",
    "result_score",
    "result_score_next",
    "result_type",
    "result_id",
    "result_housenumber",
    "result_name",
    "result_street",
    "result_postcode",
    "result_city",
    "result_context",
    "result_citycode",
    "result_oldcitycode",
    "result_oldcity",
    "result_district",
    "result_status",
)
# POST /reverse/csv: the same, the found point and its distance first.
REVERSE_CSV_COLUMNS = (
    "result_latitude",
    "result_longitude",
    "result_distance",
    *SEARCH_CSV_COLUMNS[2:3],
    *SEARCH_CSV_COLUMNS[5:],
)
ADRESSE_COLUMNS = tuple(dict.fromkeys(SEARCH_CSV_COLUMNS + REVERSE_CSV_COLUMNS))
# result_status: a row found, not found, not searched (empty or too short), or failed.
OK, NOT_FOUND, SKIPPED, ERROR = "ok", "not-found", "skipped", "error"

_REGIONS = {
    "ara": "Auvergne-Rhône-Alpes",
    "bfc": "Bourgogne-Franche-Comté",
    "bre": "Bretagne",
    "cvl": "Centre-Val de Loire",
    "cor": "Corse",
    "ges": "Grand Est",
    "hdf": "Hauts-de-France",
    "idf": "Île-de-France",
    "nor": "Normandie",
    "naq": "Nouvelle-Aquitaine",
    "occ": "Occitanie",
    "pdl": "Pays de la Loire",
    "pac": "Provence-Alpes-Côte d'Azur",
}
# Département -> (name, region key; None where the département is its own region).
_DEPARTEMENTS: dict[str, tuple[str, str | None]] = {
    "01": ("Ain", "ara"), "02": ("Aisne", "hdf"), "03": ("Allier", "ara"),
    "04": ("Alpes-de-Haute-Provence", "pac"), "05": ("Hautes-Alpes", "pac"),
    "06": ("Alpes-Maritimes", "pac"), "07": ("Ardèche", "ara"), "08": ("Ardennes", "ges"),
    "09": ("Ariège", "occ"), "10": ("Aube", "ges"), "11": ("Aude", "occ"),
    "12": ("Aveyron", "occ"), "13": ("Bouches-du-Rhône", "pac"), "14": ("Calvados", "nor"),
    "15": ("Cantal", "ara"), "16": ("Charente", "naq"), "17": ("Charente-Maritime", "naq"),
    "18": ("Cher", "cvl"), "19": ("Corrèze", "naq"), "2A": ("Corse-du-Sud", "cor"),
    "2B": ("Haute-Corse", "cor"), "21": ("Côte-d'Or", "bfc"), "22": ("Côtes-d'Armor", "bre"),
    "23": ("Creuse", "naq"), "24": ("Dordogne", "naq"), "25": ("Doubs", "bfc"),
    "26": ("Drôme", "ara"), "27": ("Eure", "nor"), "28": ("Eure-et-Loir", "cvl"),
    "29": ("Finistère", "bre"), "30": ("Gard", "occ"), "31": ("Haute-Garonne", "occ"),
    "32": ("Gers", "occ"), "33": ("Gironde", "naq"), "34": ("Hérault", "occ"),
    "35": ("Ille-et-Vilaine", "bre"), "36": ("Indre", "cvl"), "37": ("Indre-et-Loire", "cvl"),
    "38": ("Isère", "ara"), "39": ("Jura", "bfc"), "40": ("Landes", "naq"),
    "41": ("Loir-et-Cher", "cvl"), "42": ("Loire", "ara"), "43": ("Haute-Loire", "ara"),
    "44": ("Loire-Atlantique", "pdl"), "45": ("Loiret", "cvl"), "46": ("Lot", "occ"),
    "47": ("Lot-et-Garonne", "naq"), "48": ("Lozère", "occ"), "49": ("Maine-et-Loire", "pdl"),
    "50": ("Manche", "nor"), "51": ("Marne", "ges"), "52": ("Haute-Marne", "ges"),
    "53": ("Mayenne", "pdl"), "54": ("Meurthe-et-Moselle", "ges"), "55": ("Meuse", "ges"),
    "56": ("Morbihan", "bre"), "57": ("Moselle", "ges"), "58": ("Nièvre", "bfc"),
    "59": ("Nord", "hdf"), "60": ("Oise", "hdf"), "61": ("Orne", "nor"),
    "62": ("Pas-de-Calais", "hdf"), "63": ("Puy-de-Dôme", "ara"),
    "64": ("Pyrénées-Atlantiques", "naq"), "65": ("Hautes-Pyrénées", "occ"),
    "66": ("Pyrénées-Orientales", "occ"), "67": ("Bas-Rhin", "ges"), "68": ("Haut-Rhin", "ges"),
    "69": ("Rhône", "ara"), "70": ("Haute-Saône", "bfc"), "71": ("Saône-et-Loire", "bfc"),
    "72": ("Sarthe", "pdl"), "73": ("Savoie", "ara"), "74": ("Haute-Savoie", "ara"),
    "75": ("Paris", "idf"), "76": ("Seine-Maritime", "nor"), "77": ("Seine-et-Marne", "idf"),
    "78": ("Yvelines", "idf"), "79": ("Deux-Sèvres", "naq"), "80": ("Somme", "hdf"),
    "81": ("Tarn", "occ"), "82": ("Tarn-et-Garonne", "occ"), "83": ("Var", "pac"),
    "84": ("Vaucluse", "pac"), "85": ("Vendée", "pdl"), "86": ("Vienne", "naq"),
    "87": ("Haute-Vienne", "naq"), "88": ("Vosges", "ges"), "89": ("Yonne", "bfc"),
    "90": ("Territoire de Belfort", "bfc"), "91": ("Essonne", "idf"),
    "92": ("Hauts-de-Seine", "idf"), "93": ("Seine-Saint-Denis", "idf"),
    "94": ("Val-de-Marne", "idf"), "95": ("Val-d'Oise", "idf"), "971": ("Guadeloupe", None),
    "972": ("Martinique", None), "973": ("Guyane", None), "974": ("La Réunion", None),
    "975": ("Saint-Pierre-et-Miquelon", None), "976": ("Mayotte", None),
    "977": ("Saint-Barthélemy", None), "978": ("Saint-Martin", None),
    "986": ("Wallis-et-Futuna", None), "987": ("Polynésie française", None),
    "988": ("Nouvelle-Calédonie", None),
}  # fmt: skip
_CITY_OF_DISTRICT = {a: city for city, arrs in ARRONDISSEMENTS.items() for a in arrs}
_CITY_NAMES = {"75056": "Paris", "69123": "Lyon", "13055": "Marseille"}


def context(citycode: str | None) -> str | None:
    """ "93, Seine-Saint-Denis, Île-de-France" for a commune code; None when unknown."""
    if not citycode:
        return None
    dep = departement_of_citycode(citycode)
    known = _DEPARTEMENTS.get(dep)
    if known is None:
        return dep
    name, region = known
    return f"{dep}, {name}, {_REGIONS[region]}" if region else f"{dep}, {name}"


def district(citycode: str | None) -> str | None:
    """ "Paris 18e Arrondissement" for an arrondissement's code, None for other communes."""
    city = _CITY_OF_DISTRICT.get(citycode or "")
    if city is None or citycode is None:
        return None
    n = int(citycode) - 69380 if city == "69123" else int(citycode[-2:])
    return f"{_CITY_NAMES[city]} {n}{'er' if n == 1 else 'e'} Arrondissement"


def name(candidate: Candidate) -> str:
    """API Adresse's ``name``: "4 Rue Éric Tabarly", "Rue Éric Tabarly", or the commune."""
    if candidate.housenumber and candidate.street:
        return f"{candidate.housenumber} {candidate.street}"
    if candidate.street and candidate.type is not MatchType.MUNICIPALITY:
        return candidate.street
    return candidate.city or candidate.label


def csv_values(candidate: Candidate) -> dict[str, str | None]:
    """The text ``result_*`` columns of a found row (coordinates and scores apart)."""
    return {
        "result_label": candidate.label,
        "result_type": candidate.type.value,
        "result_id": candidate.id,
        "result_housenumber": candidate.housenumber,
        "result_name": name(candidate),
        "result_street": candidate.street,
        "result_postcode": candidate.postcode,
        "result_city": candidate.city,
        "result_context": context(candidate.citycode),
        "result_citycode": candidate.citycode,
        "result_oldcitycode": None,  # merged communes: not kept by the local tables
        "result_oldcity": None,
        "result_district": district(candidate.citycode),
    }
