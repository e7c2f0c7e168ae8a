"""A self-contained HTML report in French: inline SVG drawn here, no script, no external file."""

from __future__ import annotations

import math
from datetime import date
from html import escape
from typing import Any

import pandas as pd

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
    """Forest plot: each group's values QPV / hors QPV and the gap with its interval."""
    t = report.table
    rate = _is_rate(report)
    scale = 100.0 if rate else 1.0
    rows = list(t.itertuples(index=False))
    width, row_h, left, mid = 1000, 22, 300, 620
    height = 50 + row_h * len(rows)
    values = [v * scale for r in rows for v in (r.valeur_qpv, r.valeur_hors_qpv) if _finite(v)]
    gaps = [v for r in rows for v in (r.ecart_bas, r.ecart_haut, r.ecart) if _finite(v)]
    v_max = max([*values, 1.0]) * 1.05 if not rate else 100.0
    g_lim = max([abs(g) for g in gaps] + [1.0]) * 1.1

    def vx(v: float) -> float:
        return left + (mid - 40 - left) * v / v_max

    def gx(g: float) -> float:
        return mid + 20 + (width - mid - 40) * (g + g_lim) / (2 * g_lim)

    unit = "%" if rate else ""
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Taux et écarts par groupe" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="{vx(0):.0f}" y="14">Valeur : ● QPV  ○ hors QPV (0 à {_num(v_max, 0)}{unit})</text>',
        f'<text x="{mid + 20}" y="14">Écart QPV − hors QPV{" (points)" if rate else ""}, '
        f"IC {_num(report.analysis.confidence * 100, 0)} %</text>",
        f'<line x1="{gx(0):.1f}" y1="24" x2="{gx(0):.1f}" y2="{height - 10}" stroke="#888"/>',
        f'<text x="{gx(-g_lim):.0f}" y="{height - 2}">{_num(-g_lim)}</text>',
        f'<text x="{gx(g_lim) - 30:.0f}" y="{height - 2}">{_num(g_lim)}</text>',
    ]
    for i, r in enumerate(rows):
        y = 40 + i * row_h
        label = _group_label(pd.Series(r._asdict()), report.analysis.by)
        if isinstance(report.analysis.indicator, CategoricalShares):
            label = f"{r.categorie} — {label}"
        out.append(f'<text x="4" y="{y + 4}">{escape(label[:48])}</text>')
        if i % 2 == 0:
            out.insert(1, f'<rect x="0" y="{y - 11}" width="{width}" height="{row_h}" fill="#f6f6f6"/>')
        if not _finite(r.ecart):
            out.append(f'<text x="{mid + 20}" y="{y + 4}" fill="#a33">secret statistique ou effectif nul</text>')
        for v, fill in ((r.valeur_qpv, "#c0392b"), (r.valeur_hors_qpv, "white")):
            if _finite(v):
                out.append(f'<circle cx="{vx(v * scale):.1f}" cy="{y}" r="5" fill="{fill}" stroke="#c0392b"/>')
        if _finite(r.ecart):
            if _finite(r.ecart_bas) and _finite(r.ecart_haut):
                out.append(
                    f'<line x1="{gx(r.ecart_bas):.1f}" y1="{y}" x2="{gx(r.ecart_haut):.1f}" '
                    f'y2="{y}" stroke="#2c3e50" stroke-width="2"/>'
                )
            out.append(f'<rect x="{gx(r.ecart) - 4:.1f}" y="{y - 4}" width="8" height="8" fill="#2c3e50"/>')
    out.append("</svg>")
    return "\n".join(out)


def _finite(value: Any) -> bool:
    return value is not None and isinstance(value, int | float) and math.isfinite(value)


def _table(headers: list[str], rows: list[list[str]], key_columns: int = 1) -> str:
    head = "".join(f'<th class="{"k" if i < key_columns else ""}">{escape(h)}</th>' for i, h in enumerate(headers))
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
    headers = ["Groupe", "Catégorie", "Effectif QPV", "Effectif hors QPV", "Incertains",
               "Valeur QPV" + (" (%)" if rate else ""), "Valeur hors QPV" + (" (%)" if rate else ""),
               "Écart" + (" (points)" if rate else ""), "IC bas", "IC haut", "Rapport", "IC rapport", "p"]
    rows = []
    for _, r in report.table.iterrows():
        hq, hh, hu = (pd.isna(r[c]) and r["secret"] != "" for c in ("n_qpv", "n_hors_qpv", "n_incertain"))
        rows.append([
            _group_label(r, report.analysis.by), str(r["categorie"]),
            _cell(r["n_qpv"], hq), _cell(r["n_hors_qpv"], hh), _cell(r["n_incertain"], hu),
            _cell(r["valeur_qpv"], hq, 1, scale), _cell(r["valeur_hors_qpv"], hh, 1, scale),
            _num(r["ecart"]), _num(r["ecart_bas"]), _num(r["ecart_haut"]), _num(r["rapport"], 2),
            f"{_num(r['rapport_bas'], 2)} – {_num(r['rapport_haut'], 2)}" if _finite(r["rapport_bas"]) else "",
            _p(r["p_valeur"]),
        ])
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
            rows.append([
                _group_label(r, report.analysis.by), SIDE_FR[side], _num(r[f"reference_{side}"], 1, 100),
                _num(r[f"ecart_reference_{side}"]), _num(r[f"ecart_reference_{side}_bas"]),
                _num(r[f"ecart_reference_{side}_haut"]), _p(r[f"p_valeur_reference_{side}"]),
            ])
    headers = ["Groupe", "Côté", "Référence (%)", "Écart à la référence (points)", "IC bas", "IC haut", "p (binomial exact)"]
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
    for (_, r) in s.iterrows():
        hidden = r["secret"] != ""
        rows.append([
            _group_label(r, by), str(r["categorie"]), SCENARIO_LABELS_FR[Scenario(r["scenario"])],
            _cell(r["n_qpv"], hidden), _cell(r["n_hors_qpv"], hidden),
            _cell(r["ecart"], hidden, 1),
            "" if hidden or not _finite(r["ecart_bas"]) else f"{_num(r['ecart_bas'])} – {_num(r['ecart_haut'])}",
        ])
    headers = ["Groupe", "Catégorie", "Incertains", "Effectif QPV", "Effectif hors QPV",
               "Écart" + (" (points)" if rate else ""), "IC"]
    return _table(headers, rows, 3)


def provenance_block(report: GapReport) -> str:
    """Geography, dataset version and date, and what is unknown."""
    p = report.provenance
    unknown = "inconnu (le fichier étiqueté ne le dit pas)"

    def show(key: str) -> str:
        value = p.get(key)
        return ", ".join(map(str, value)) if isinstance(value, list) and value else (str(value) if value else unknown)

    items = [
        ("Géographie QPV", show("qpv_geography")),
        ("Version du jeu de données", show("qpv_dataset_version")),
        ("Jeu de données", show("qpv_dataset")),
        ("Date de référence (as_of)", show("qpv_as_of")),
        ("Étiquetage fait le", show("qpv_tagged_at")),
        ("Rapport produit le", p.get("generated_on") or date.today().isoformat()),
    ]
    return "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items) + "</dl>"


def render(report: GapReport) -> str:
    """The whole report as one HTML document."""
    a = report.analysis
    ind = a.indicator
    title = f"Écarts QPV / hors QPV : {escape(', '.join(ind.columns[:2]))}"
    sup = report.suppression
    hidden = report.table[report.table["secret"] != ""]
    hidden_rows = [[_group_label(r, a.by), str(r["categorie"]), str(r["secret"])] for _, r in hidden.iterrows()]
    parts = [
        "<!DOCTYPE html>", '<html lang="fr"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; img-src data:">',
        f"<title>{title}</title><style>{STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
        f'<p class="note">Par : {escape(", ".join(a.by) or "(aucun regroupement)")}. '
        f"Intervalles de confiance à {_num(a.confidence * 100, 0)} % ; "
        + ("écart de taux : intervalle de Newcombe (score hybride), rapport : log ajusté, p : test du score de deux proportions."
           if _is_rate(report) else "rapport de sommes : intervalle bootstrap percentile (lignes rééchantillonnées, graine fixe).")
        + " Estimation principale : lignes incertaines exclues (voir la sensibilité).</p>",
        "<h2>Source</h2>", provenance_block(report),
        "<h2>Valeurs et écarts par groupe</h2>", chart(report),
        "<h2>Effectifs et écarts</h2>", counts_table(report),
        reference_table(report),
        "<h2>Lignes incertaines</h2>",
        '<p class="note">in = QPV ; out et commune_without_qpv = hors QPV ; les autres statuts sont incertains, '
        "comptés ici et exclus de l'estimation principale. near_boundary est séparé selon le côté où le point est tombé (qpv_code renseigné ou non).</p>",
        statuses_table(report),
        "<h2>Sensibilité au traitement des lignes incertaines</h2>", sensitivity_table(report),
        "<h2>Secret statistique</h2>",
        f"<p>Seuil : {sup['seuil']} enregistrements. Cellules masquées : {sup['primaires']} en secret primaire, "
        f"{sup['secondaires']} en secret secondaire (sur {sup['cellules']} cellules groupe × côté). "
        f"Règle : {escape(sup['regle'])}. Une ligne de sensibilité est masquée dès qu'une cellule de son groupe l'est, "
        "car la comparaison des scénarios révélerait les lignes incertaines.</p>",
        _table(["Groupe", "Catégorie", "Motif"], hidden_rows, 3) if hidden_rows else "<p>Aucune cellule masquée.</p>",
        "<h2>Notes</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in report.notes) + "</ul>",
        "</body></html>",
    ]
    return "\n".join(parts)
