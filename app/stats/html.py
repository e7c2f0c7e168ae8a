"""A self-contained HTML report in French: inline SVG drawn here, no script, no external file."""

from __future__ import annotations

import math
from datetime import date
from html import escape
from typing import Any

import pandas as pd

from app.stats import svg
from app.stats.cells import TOTAL
from app.stats.gaps import GapReport
from app.stats.indicators import BinaryRate, CategoricalShares
from app.stats.sides import SCENARIO_LABELS_FR, Scenario

STYLE = """
body{font-family:system-ui,'DejaVu Sans',sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}th{background:#f2f2f2}
td.k,th.k{text-align:left}td.s{color:#a33;text-align:center}.note{color:#555;font-size:.9em}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:bold}
"""
SIDE_FR = {"qpv": "QPV", "hors_qpv": "hors QPV", "incertain": "incertain"}


def _num(value: Any, digits: int = 1, scale: float = 1.0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    text = f"{float(value) * scale:,.{digits}f}"
    return text.replace(",", "\u202f").replace(".", ",")


def _p(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return "< 0,001" if value < 0.001 else _num(value, 3)


def _group_label(row: pd.Series, by: tuple[str, ...]) -> str:
    parts = [f"{c} = {row[c]}" for c in by if row[c] != TOTAL]
    return ", ".join(parts) or "Ensemble"


def _is_rate(report: GapReport) -> bool:
    return isinstance(report.analysis.indicator, BinaryRate | CategoricalShares)


def chart(report: GapReport) -> str:
    """Forest plot: each group's value QPV / hors QPV and the gap with its interval."""
    rate = _is_rate(report)
    scale = 100.0 if rate else 1.0
    shares = isinstance(report.analysis.indicator, CategoricalShares)
    rows = []
    for _, r in report.table.iterrows():
        label = _group_label(r, report.analysis.by)
        rows.append(
            svg.ChartRow(
                f"{r['categorie']} — {label}" if shares else label,
                *(_opt(r[c], scale) for c in ("valeur_qpv", "valeur_hors_qpv")),
                *(_opt(r[c]) for c in ("ecart", "ecart_bas", "ecart_haut")),
            )
        )
    confidence = _num(report.analysis.confidence * 100, 0)
    title = f"Écart QPV − hors QPV{' (points)' if rate else ''}, IC {confidence} %"
    return svg.forest(rows, " %" if rate else "", "", title)


def _opt(value: Any, scale: float = 1.0) -> float | None:
    return float(value) * scale if _finite(value) else None


def _finite(value: Any) -> bool:
    return value is not None and isinstance(value, int | float) and math.isfinite(value)


def _table(headers: list[str], rows: list[list[str]], key_columns: int = 1) -> str:
    head = "".join(
        f'<th class="{"k" if i < key_columns else ""}">{escape(h)}</th>'
        for i, h in enumerate(headers)
    )
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            cls = "k" if i < key_columns else ("s" if cell == "secret" else "")
            cells.append(f'<td class="{cls}">{escape(cell)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _cell(value: Any, hidden: bool, digits: int = 0, scale: float = 1.0) -> str:
    return "secret" if hidden else _num(value, digits, scale)


def counts_table(report: GapReport) -> str:
    """Counts, values, gaps, intervals and p-values per group."""
    rate = _is_rate(report)
    scale = 100.0 if rate else 1.0
    headers = [
        "Groupe",
        "Catégorie",
        "Effectif QPV",
        "Effectif hors QPV",
        "Incertains",
        "Valeur QPV" + (" (%)" if rate else ""),
        "Valeur hors QPV" + (" (%)" if rate else ""),
        "Écart" + (" (points)" if rate else ""),
        "IC bas",
        "IC haut",
        "Rapport",
        "IC rapport",
        "p",
    ]
    rows = []
    for _, r in report.table.iterrows():
        hq, hh, hu = (
            pd.isna(r[c]) and r["secret"] != "" for c in ("n_qpv", "n_hors_qpv", "n_incertain")
        )
        rows.append(
            [
                _group_label(r, report.analysis.by),
                str(r["categorie"]),
                _cell(r["n_qpv"], hq),
                _cell(r["n_hors_qpv"], hh),
                _cell(r["n_incertain"], hu),
                _cell(r["valeur_qpv"], hq, 1, scale),
                _cell(r["valeur_hors_qpv"], hh, 1, scale),
                _num(r["ecart"]),
                _num(r["ecart_bas"]),
                _num(r["ecart_haut"]),
                _num(r["rapport"], 2),
                f"{_num(r['rapport_bas'], 2)} – {_num(r['rapport_haut'], 2)}"
                if _finite(r["rapport_bas"])
                else "",
                _p(r["p_valeur"]),
            ]
        )
    return _table(headers, rows, 2)


def reference_table(report: GapReport) -> str:
    """Each side against the reference rate, when one was given."""
    if "reference_qpv" not in report.table:
        return ""
    rows = []
    for _, r in report.table.iterrows():
        for side in ("qpv", "hors_qpv"):
            if not _finite(r[f"ecart_reference_{side}"]):
                continue
            rows.append(
                [
                    _group_label(r, report.analysis.by),
                    SIDE_FR[side],
                    _num(r[f"reference_{side}"], 1, 100),
                    _num(r[f"ecart_reference_{side}"]),
                    _num(r[f"ecart_reference_{side}_bas"]),
                    _num(r[f"ecart_reference_{side}_haut"]),
                    _p(r[f"p_valeur_reference_{side}"]),
                ]
            )
    headers = [
        "Groupe",
        "Côté",
        "Référence (%)",
        "Écart à la référence (points)",
        "IC bas",
        "IC haut",
        "p (binomial exact)",
    ]
    return "<h2>Comparaison à la référence</h2>" + _table(headers, rows, 2)


def statuses_table(report: GapReport) -> str:
    """Rows per tagging status and how each is counted."""
    rows = [
        [str(r["statut"]), SIDE_FR[str(r["compte_comme"])], _cell(r["lignes"], r["secret"] != "")]
        for _, r in report.statuses.iterrows()
    ]
    return _table(["Statut", "Compté comme", "Lignes"], rows, 2)


def sensitivity_table(report: GapReport) -> str:
    """Each gap under each way of counting the uncertain rows."""
    s = report.sensitivity
    by = report.analysis.by
    rate = _is_rate(report)
    rows = []
    for _, r in s.iterrows():
        hidden = r["secret"] != ""
        rows.append(
            [
                _group_label(r, by),
                str(r["categorie"]),
                SCENARIO_LABELS_FR[Scenario(r["scenario"])],
                _cell(r["n_qpv"], hidden),
                _cell(r["n_hors_qpv"], hidden),
                _cell(r["ecart"], hidden, 1),
                ""
                if hidden or not _finite(r["ecart_bas"])
                else f"{_num(r['ecart_bas'])} – {_num(r['ecart_haut'])}",
            ]
        )
    headers = [
        "Groupe",
        "Catégorie",
        "Incertains",
        "Effectif QPV",
        "Effectif hors QPV",
        "Écart" + (" (points)" if rate else ""),
        "IC",
    ]
    return _table(headers, rows, 3)


def provenance_block(report: GapReport) -> str:
    """Geography, dataset version and date, and what is unknown."""
    p = report.provenance
    unknown = "inconnu (le fichier étiqueté ne le dit pas)"

    def show(key: str) -> str:
        value = p.get(key)
        return (
            ", ".join(map(str, value))
            if isinstance(value, list) and value
            else (str(value) if value else unknown)
        )

    items = [
        ("Géographie QPV", show("qpv_geography")),
        ("Version du jeu de données", show("qpv_dataset_version")),
        ("Jeu de données", show("qpv_dataset")),
        ("Date de référence (as_of)", show("qpv_as_of")),
        ("Étiquetage fait le", show("qpv_tagged_at")),
        ("Rapport produit le", p.get("generated_on") or date.today().isoformat()),
    ]
    return "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items) + "</dl>"


METHOD_RATE = (
    "écart de taux : intervalle de Newcombe (score hybride) ; rapport : intervalle log ajusté ; "
    "p : test du score de deux proportions (khi-deux de Pearson sans correction)."
)
METHOD_RATIO = (
    "rapport de sommes : intervalle bootstrap percentile (lignes rééchantillonnées dans chaque "
    "côté, graine fixe) ; pas de p-valeur."
)
UNCERTAIN_RULE = (
    "in = QPV ; out et commune_without_qpv = hors QPV ; les autres statuts sont incertains : "
    "comptés ici, exclus de l'estimation principale et réintégrés dans la table de sensibilité. "
    "near_boundary est séparé selon le côté où le point est tombé (qpv_code renseigné ou non)."
)
SENSITIVITY_RULE = (
    "Une ligne de sensibilité est masquée dès qu'une cellule de son groupe l'est : comparer les "
    "scénarios révélerait les lignes incertaines."
)


def _secret_section(report: GapReport) -> list[str]:
    sup = report.suppression
    hidden = report.table[report.table["secret"] != ""]
    by = report.analysis.by
    rows = [
        [_group_label(r, by), str(r["categorie"]), str(r["secret"])] for _, r in hidden.iterrows()
    ]
    summary = (
        f"Seuil : {sup['seuil']} enregistrements. Cellules masquées : {sup['primaires']} en "
        f"secret primaire, {sup['secondaires']} en secret secondaire (sur {sup['cellules']} "
        f"cellules groupe × côté). Règle : {sup['regle']}. {SENSITIVITY_RULE}"
    )
    table = _table(["Groupe", "Catégorie", "Motif"], rows, 3) if rows else "<p>Aucune.</p>"
    return ["<h2>Secret statistique</h2>", f"<p>{escape(summary)}</p>", table]


def render(report: GapReport) -> str:
    """The whole report as one HTML document."""
    a = report.analysis
    title = escape(f"Écarts QPV / hors QPV : {', '.join(a.indicator.columns[:2])}")
    method = METHOD_RATE if _is_rate(report) else METHOD_RATIO
    intro = (
        f"Par : {', '.join(a.by) or '(aucun regroupement)'}. Intervalles de confiance à "
        f"{_num(a.confidence * 100, 0)} % ; {method} Estimation principale : lignes "
        "incertaines exclues (voir la sensibilité)."
    )
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    parts = [
        '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
        f"<title>{title}</title><style>{STYLE}</style></head><body>",
        f'<h1>{title}</h1><p class="note">{escape(intro)}</p>',
        "<h2>Source</h2>",
        provenance_block(report),
        "<h2>Valeurs et écarts par groupe</h2>",
        chart(report),
        "<h2>Effectifs et écarts</h2>",
        counts_table(report),
        reference_table(report),
        f'<h2>Lignes incertaines</h2><p class="note">{escape(UNCERTAIN_RULE)}</p>',
        statuses_table(report),
        "<h2>Sensibilité au traitement des lignes incertaines</h2>",
        sensitivity_table(report),
        *_secret_section(report),
        "<h2>Notes</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in report.notes) + "</ul>",
        "</body></html>",
    ]
    return "\n".join(parts)
