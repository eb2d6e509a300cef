"""Small server-side charts as inline SVG: line charts and (stacked) bar charts with axes, ticks, labels and
a legend. Nothing to load from anywhere: the markup goes straight into the page, so the dashboard works on
a closed network and without JavaScript.

Every piece of text that goes into the SVG is escaped here; the result is ``markupsafe.Markup`` so a
template can insert it as it is.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

log = logging.getLogger(__name__)

#: Colours by series position (colour-blind friendly, after Okabe and Ito).
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#f0e442", "#000000")
#: Colours for the series that mean the same thing everywhere in the dashboard.
STATUS_COLOURS = {
    "failed": "#c0392b", "changed": "#0072b2", "unchanged": "#009e73", "noop-pending": "#e69f00",
    "unresponsive": "#7f7f7f", "unreported": "#b0b0b0", "corrective": "#d55e00", "intentional": "#0072b2",
}

_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 56, 16, 28, 44


@dataclass(frozen=True, slots=True)
class Series:
    """One named line (or one layer of bars): y values, one per x position; None leaves a gap."""

    name: str
    values: Sequence[float | None]
    colour: str | None = None


@dataclass(slots=True)
class _Frame:
    """The plotting area and the mapping of data to pixels."""

    width: int
    height: int
    y_max: float
    count: int
    parts: list[str] = field(default_factory=list)

    @property
    def left(self) -> float:
        return _MARGIN_LEFT

    @property
    def right(self) -> float:
        return self.width - _MARGIN_RIGHT

    @property
    def top(self) -> float:
        return _MARGIN_TOP

    @property
    def bottom(self) -> float:
        return self.height - _MARGIN_BOTTOM

    def y(self, value: float) -> float:
        return self.bottom - (value / self.y_max) * (self.bottom - self.top) if self.y_max else self.bottom


def nice_ticks(high: float, count: int = 5, *, whole: bool = False) -> list[float]:
    """Round tick values from 0 to at least ``high`` (1, 2, 2.5 or 5 times a power of ten apart);
    ``whole``: whole numbers only (counts of nodes or runs: half a node is no tick)."""
    if not math.isfinite(high) or high <= 0:
        return [0.0, 1.0]
    raw = high / count
    magnitude = 10 ** math.floor(math.log10(raw))
    steps = (1, 2, 5, 10) if whole else (1, 2, 2.5, 5, 10)
    step = next(m * magnitude for m in steps if m * magnitude >= raw)
    if whole:
        step = max(1.0, float(round(step)))
    ticks = [0.0]
    while ticks[-1] < high - 1e-12:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def format_number(value: float) -> str:
    """Tick labels: 1200 -> 1.2k, 0.25 -> 0.25, 3.0 -> 3."""
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.3g}M"
    if abs(value) >= 1000:
        return f"{value / 1000:.3g}k"
    if value == int(value):
        return str(int(value))
    return f"{value:.3g}"


def _text(x: float, y: float, content: str, *, anchor: str = "middle", size: int = 11,
          extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}"{extra}>'
            f"{escape(content)}</text>")


def _axes(frame: _Frame, labels: Sequence[str], *, y_label: str, x_positions: Sequence[float],
          format_y: Callable[[float], str], whole: bool = False) -> None:
    parts = frame.parts
    for tick in nice_ticks(frame.y_max, whole=whole):
        y = frame.y(tick)
        parts.append(f'<line x1="{frame.left}" y1="{y:.1f}" x2="{frame.right}" y2="{y:.1f}" '
                     'stroke="#e3e3e3" stroke-width="1"/>')
        parts.append(_text(frame.left - 6, y + 4, format_y(tick), anchor="end", size=10))
    parts.append(f'<line x1="{frame.left}" y1="{frame.top}" x2="{frame.left}" y2="{frame.bottom}" '
                 'stroke="#555" stroke-width="1"/>')
    parts.append(f'<line x1="{frame.left}" y1="{frame.bottom}" x2="{frame.right}" y2="{frame.bottom}" '
                 'stroke="#555" stroke-width="1"/>')
    # label at most ~8 positions so the text never overlaps
    every = max(1, math.ceil(len(labels) / 8))
    for index, (label, x) in enumerate(zip(labels, x_positions)):
        if index % every == 0 or index == len(labels) - 1 and index % every > every // 2:
            parts.append(f'<line x1="{x:.1f}" y1="{frame.bottom}" x2="{x:.1f}" y2="{frame.bottom + 4}" '
                         'stroke="#555"/>')
            parts.append(_text(x, frame.bottom + 16, label, size=10))
    if y_label:
        mid = (frame.top + frame.bottom) / 2
        parts.append(_text(14, mid, y_label, size=10, extra=f' transform="rotate(-90 14 {mid:.1f})"'))


def _legend(frame: _Frame, series: Sequence[Series], colours: Sequence[str]) -> None:
    x = frame.left
    for item, colour in zip(series, colours):
        frame.parts.append(f'<rect x="{x:.1f}" y="{frame.height - 14}" width="10" height="10" fill="{colour}"/>')
        frame.parts.append(_text(x + 14, frame.height - 5, item.name, anchor="start", size=10))
        x += 24 + 6.5 * len(item.name)


def _colours(series: Sequence[Series]) -> list[str]:
    return [s.colour or STATUS_COLOURS.get(s.name, PALETTE[i % len(PALETTE)]) for i, s in enumerate(series)]


def _open(frame: _Frame, title: str, kind: str) -> None:
    frame.parts.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {kind}" role="img" '
        f'width="{frame.width}" height="{frame.height}" viewBox="0 0 {frame.width} {frame.height}" '
        f'aria-label="{escape(title)}" font-family="sans-serif">')
    frame.parts.append(f"<title>{escape(title)}</title>")
    frame.parts.append(_text(frame.left, 16, title, anchor="start", size=12, extra=' font-weight="bold"'))


def _empty(frame: _Frame) -> None:
    frame.parts.append(_text((frame.left + frame.right) / 2, (frame.top + frame.bottom) / 2, "no data",
                             size=12, extra=' fill="#888"'))


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series], *, y_label: str = "",
               width: int = 640, height: int = 220, format_y: Callable[[float], str] = format_number,
               whole: bool = False) -> Markup:
    """Lines over ``labels`` (one x position per label), with point markers carrying tooltips."""
    values = [v for s in series for v in s.values if v is not None]
    frame = _Frame(width, height, max(nice_ticks(max(values, default=0.0), whole=whole)), len(labels))
    _open(frame, title, "line")
    span = frame.right - frame.left
    xs = [frame.left + (span * (i + 0.5) / len(labels)) for i in range(len(labels))] if labels else []
    _axes(frame, labels, y_label=y_label, x_positions=xs, format_y=format_y, whole=whole)
    colours = _colours(series)
    if not values:
        _empty(frame)
    for item, colour in zip(series, colours):
        runs: list[list[str]] = [[]]
        for x, value in zip(xs, item.values):
            if value is None:
                runs.append([])
                continue
            runs[-1].append(f"{x:.1f},{frame.y(value):.1f}")
        for points in runs:
            if len(points) > 1:
                frame.parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                                   f'points="{" ".join(points)}"/>')
        if len(xs) <= 120:  # markers (with tooltips) while they stay readable
            for x, value, label in zip(xs, item.values, labels):
                if value is not None:
                    frame.parts.append(
                        f'<circle cx="{x:.1f}" cy="{frame.y(value):.1f}" r="2.5" fill="{colour}">'
                        f"<title>{escape(f'{item.name} {label}: {format_y(value)}')}</title></circle>")
    _legend(frame, series, colours)
    frame.parts.append("</svg>")
    return Markup("".join(frame.parts))


def bar_chart(title: str, labels: Sequence[str], series: Sequence[Series], *, y_label: str = "",
              width: int = 640, height: int = 220, format_y: Callable[[float], str] = format_number,
              whole: bool = False) -> Markup:
    """Bars over ``labels``; several series are stacked (a bar's height is their sum)."""
    totals = [sum((s.values[i] or 0.0) for s in series) for i in range(len(labels))]
    frame = _Frame(width, height, max(nice_ticks(max(totals, default=0.0), whole=whole)), len(labels))
    _open(frame, title, "bar")
    span = frame.right - frame.left
    slot = span / len(labels) if labels else span
    xs = [frame.left + slot * (i + 0.5) for i in range(len(labels))]
    _axes(frame, labels, y_label=y_label, x_positions=xs, format_y=format_y, whole=whole)
    colours = _colours(series)
    if not any(totals):
        _empty(frame)
    bar = max(1.0, slot * 0.7)
    for index, (x, label) in enumerate(zip(xs, labels)):
        base = 0.0
        for item, colour in zip(series, colours):
            value = item.values[index] or 0.0
            if value <= 0:
                continue
            top, bottom = frame.y(base + value), frame.y(base)
            frame.parts.append(
                f'<rect class="bar" x="{x - bar / 2:.1f}" y="{top:.1f}" width="{bar:.1f}" '
                f'height="{max(0.5, bottom - top):.1f}" fill="{colour}">'
                f"<title>{escape(f'{item.name} {label}: {format_y(value)}')}</title></rect>")
            base += value
    _legend(frame, series, colours)
    frame.parts.append("</svg>")
    return Markup("".join(frame.parts))
