"""Charts drawn on the server as inline SVG (no JavaScript, nothing fetched from elsewhere).

    columns([("07-01", {"入库": 480, "隔离": 20}), ...], series=("入库", "隔离"))  -> <svg ...>
    bars([("id_number.checksum", 12), ...])                                     -> <svg ...>

The SVGs scale with their container (``viewBox``, width 100%), so they read at 1280 px and on
a phone alike; each carries a <title> and the figures as text for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

COLOURS = ("#1f6fb2", "#d9822b", "#3c9d5d", "#b03a48")


def _nice(top: float) -> float:
    if top <= 0:
        return 1
    step = 10 ** (len(str(int(top))) - 1)
    return ((int(top) // step) + 1) * step


def columns(points: Sequence[tuple[str, dict[str, float]]], series: Sequence[str], *, title: str) -> Markup:
    """Stacked columns, one per label (e.g. a day), one colour per series."""
    width, height, left, bottom, top_pad = 640, 240, 48, 36, 28
    if not points:
        return Markup('<p class="empty">暂无数据</p>')
    top = _nice(max(sum(values.get(s, 0) for s in series) for _label, values in points))
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    slot = plot_w / len(points)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>"]
    for i in range(5):
        y = top_pad + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{int(top * i / 4)}</text>')
    every = max(1, len(points) // 10)
    for n, (label, values) in enumerate(points):
        x, base = left + n * slot + slot * 0.15, top_pad + plot_h
        for s, name in enumerate(series):
            value = values.get(name, 0)
            h = plot_h * value / top
            base -= h
            parts.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
                         f'fill="{COLOURS[s % len(COLOURS)]}"><title>{escape(label)} {escape(name)}: '
                         f"{value:g}</title></rect>")
        if n % every == 0:
            parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                         f"{escape(label)}</text>")
    for s, name in enumerate(series):
        parts.append(f'<rect x="{left + s * 110}" y="6" width="12" height="12" fill="{COLOURS[s % len(COLOURS)]}"/>'
                     f'<text x="{left + s * 110 + 16}" y="16">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bars(items: Sequence[tuple[str, float]], *, title: str) -> Markup:
    """Horizontal bars, largest first as given (e.g. quarantined records by rule)."""
    if not items:
        return Markup('<p class="empty">暂无数据</p>')
    row, label_w, width = 26, 230, 640
    height = row * len(items) + 10
    top = max(v for _l, v in items) or 1
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>"]
    for n, (label, value) in enumerate(items):
        y = 5 + n * row
        w = (width - label_w - 60) * value / top
        parts.append(f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end">{escape(label)}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{COLOURS[0]}"/>'
                     f'<text x="{label_w + w + 4:.1f}" y="{y + 16}">{value:g}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
