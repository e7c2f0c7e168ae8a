"""A forest plot as inline SVG, drawn on the server: values per side and gaps with intervals."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import TypeGuard

WIDTH, ROW_H, TOP = 1000, 22, 44
LABEL_W, VALUE_L, VALUE_R, GAP_L, GAP_R = 300, 310, 570, 660, 980
QPV_COLOUR, GAP_COLOUR, HIDDEN_COLOUR = "#c0392b", "#2c3e50", "#a33"


@dataclass(frozen=True, slots=True)
class ChartRow:
    """One line of the chart; None where a value is unknown or not published."""

    label: str
    qpv: float | None
    hors_qpv: float | None
    gap: float | None
    low: float | None
    high: float | None


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2 or 5 times a power of ten apart)."""
    span = max(high - low, 1e-9)
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    return [first + i * step for i in range(math.ceil((high - first) / step) + 1)]


def _fmt(value: float) -> str:
    text = f"{value:.10g}"
    return text.replace("-", "−").replace(".", ",")


def _axis(ticks: list[float], scale: Callable[[float], float], height: int, unit: str) -> list[str]:
    out = []
    for t in ticks:
        x = scale(t)
        colour = "#888" if t == 0 else "#ddd"
        out.append(
            f'<line x1="{x:.1f}" y1="{TOP - 12}" x2="{x:.1f}" y2="{height - 18}" '
            f'stroke="{colour}"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{height - 4}" text-anchor="middle">{_fmt(t)}{unit}</text>'
        )
    return out


def _finite(value: float | None) -> TypeGuard[float]:
    return value is not None and math.isfinite(value)


def _marks(
    i: int, row: ChartRow, vx: Callable[[float], float], gx: Callable[[float], float]
) -> list[str]:
    y = TOP + i * ROW_H
    out = [f'<text x="4" y="{y + 4}">{escape(row.label[:46])}</text>']
    for value, fill in ((row.qpv, QPV_COLOUR), (row.hors_qpv, "white")):
        if _finite(value):
            out.append(
                f'<circle cx="{vx(value):.1f}" cy="{y}" r="5" fill="{fill}" stroke="{QPV_COLOUR}"/>'
            )
    gap, low, high = row.gap, row.low, row.high
    if not _finite(gap):
        label = "non publié (secret statistique ou effectif nul)"
        out.append(f'<text x="{GAP_L}" y="{y + 4}" fill="{HIDDEN_COLOUR}">{label}</text>')
        return out
    if _finite(low) and _finite(high):
        out.append(
            f'<line x1="{gx(low):.1f}" y1="{y}" x2="{gx(high):.1f}" y2="{y}" '
            f'stroke="{GAP_COLOUR}" stroke-width="2"/>'
        )
    out.append(
        f'<rect x="{gx(gap) - 4:.1f}" y="{y - 4}" width="8" height="8" fill="{GAP_COLOUR}"/>'
    )
    return out


def forest(rows: list[ChartRow], value_unit: str, gap_unit: str, title: str) -> str:
    """Left: each side's value (● QPV, ○ hors QPV); right: the gap and its interval."""
    height = TOP + ROW_H * len(rows) + 24
    values = [v for r in rows for v in (r.qpv, r.hors_qpv) if _finite(v)]
    gaps = [v for r in rows for v in (r.gap, r.low, r.high) if _finite(v)]
    v_ticks = nice_ticks(min([0.0, *values]), max([1.0, *values]))
    g_lim = max([1.0, *(abs(g) for g in gaps if g is not None)])
    g_ticks = nice_ticks(-g_lim, g_lim)

    def vx(v: float) -> float:
        return VALUE_L + (VALUE_R - VALUE_L) * (v - v_ticks[0]) / (v_ticks[-1] - v_ticks[0])

    def gx(g: float) -> float:
        return GAP_L + (GAP_R - GAP_L) * (g - g_ticks[0]) / (g_ticks[-1] - g_ticks[0])

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
        'font-family="DejaVu Sans, sans-serif" font-size="12">',
        *(
            f'<rect x="0" y="{TOP + i * ROW_H - 11}" width="{WIDTH}" height="{ROW_H}" '
            'fill="#f6f6f6"/>'
            for i in range(0, len(rows), 2)
        ),
        f'<text x="{VALUE_L}" y="14"><tspan fill="{QPV_COLOUR}">●</tspan> QPV  ○ hors QPV</text>',
        f'<text x="{GAP_L}" y="14">{escape(title)}</text>',
        *_axis(v_ticks, vx, height, value_unit),
        *_axis(g_ticks, gx, height, gap_unit),
    ]
    for i, row in enumerate(rows):
        out += _marks(i, row, vx, gx)
    out.append("</svg>")
    return "\n".join(out)
