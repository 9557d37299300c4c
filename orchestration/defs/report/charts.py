"""Charts as inline SVG, drawn here so the report needs no JavaScript, no library and no network.

Every chart is a <figure> with its title, a sentence saying what it shows, axis labels and the
SVG; a chart without data says "no data yet" instead. All text is HTML-escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 880, 320
LEFT, RIGHT, TOP, BOTTOM = 72, 160, 16, 72
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
NO_DATA = "no data yet"


@dataclass(frozen=True)
class Chart:
    """What a chart shows; `render` turns it into HTML."""

    id: str
    title: str
    sentence: str
    x_label: str
    y_label: str


def number(value: float) -> str:
    """An axis tick: 1234567 -> '1.2M', 0.25 -> '0.25'."""
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:.1f}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:.0f}k"
    if magnitude >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.2g}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (low <= 0 <= high is kept when given)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if step * m >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value < high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def _figure(chart: Chart, body: str) -> str:
    return (f'<figure class="chart" id="{escape(chart.id)}">'
            f"<figcaption><h2>{escape(chart.title)}</h2>"
            f"<p>{escape(chart.sentence)}</p></figcaption>{body}</figure>")


def empty(chart: Chart) -> str:
    return _figure(chart, f'<p class="no-data">{NO_DATA}</p>')


class _Frame:
    """The plot area of one chart: y scale, axes, labels and legend."""

    def __init__(self, chart: Chart, y_ticks: list[float], fmt: Callable[[float], str]):
        self.chart = chart
        self.ticks = y_ticks
        self.fmt = fmt
        self.low, self.high = y_ticks[0], y_ticks[-1]
        self.width = WIDTH - LEFT - RIGHT
        self.height = HEIGHT - TOP - BOTTOM
        self.parts: list[str] = []

    def y(self, value: float) -> float:
        return TOP + self.height * (self.high - value) / (self.high - self.low)

    def x_slot(self, index: int, count: int) -> tuple[float, float]:
        """Left edge and width of the index-th of `count` equal slots along the x axis."""
        width = self.width / count
        return LEFT + index * width, width

    def add(self, element: str) -> None:
        self.parts.append(element)

    def x_labels(self, labels: Sequence[str]) -> None:
        # Thin the labels so they never overlap: at most about one per 40 pixels.
        every = max(1, math.ceil(len(labels) * 40 / self.width))
        for index, label in enumerate(labels):
            if index % every:
                continue
            left, width = self.x_slot(index, len(labels))
            x, y = left + width / 2, TOP + self.height + 12
            self.add(f'<text class="tick" x="{x:.1f}" y="{y:.1f}" text-anchor="end" '
                     f'transform="rotate(-35 {x:.1f} {y:.1f})">{escape(label)}</text>')

    def svg(self, legend: Sequence[str] = ()) -> str:
        axes = []
        for tick in self.ticks:
            y = self.y(tick)
            axes.append(f'<line class="grid" x1="{LEFT}" x2="{LEFT + self.width}" '
                        f'y1="{y:.1f}" y2="{y:.1f}"/>'
                        f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" '
                        f'text-anchor="end">{escape(self.fmt(tick))}</text>')
        zero = self.y(0) if self.low <= 0 <= self.high else TOP + self.height
        axes.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT + self.width}" '
                    f'y1="{zero:.1f}" y2="{zero:.1f}"/>'
                    f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" '
                    f'y2="{TOP + self.height}"/>')
        labels = (f'<text class="label" x="{LEFT + self.width / 2:.1f}" y="{HEIGHT - 4}" '
                  f'text-anchor="middle">{escape(self.chart.x_label)}</text>'
                  f'<text class="label" x="14" y="{TOP + self.height / 2:.1f}" '
                  f'text-anchor="middle" transform="rotate(-90 14 {TOP + self.height / 2:.1f})">'
                  f"{escape(self.chart.y_label)}</text>")
        keys = "".join(
            f'<rect x="{WIDTH - RIGHT + 16}" y="{TOP + 18 * i}" width="12" height="12" '
            f'fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text class="tick" x="{WIDTH - RIGHT + 34}" y="{TOP + 18 * i + 10}">'
            f"{escape(name)}</text>"
            for i, name in enumerate(legend))
        return (f'<svg xmlns="http://www.w3.org/2000/svg" data-chart="{escape(self.chart.id)}" '
                f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
                f'aria-label="{escape(self.chart.title)}"><title>{escape(self.chart.title)}'
                f"</title>{''.join(axes)}{''.join(self.parts)}{labels}{keys}</svg>")


def bar_chart(chart: Chart, categories: Sequence[str], series: Mapping[str, Sequence[float]],
              *, stacked: bool = False, fmt: Callable[[float], str] = number) -> str:
    """Bars per category, one colour per series, side by side or stacked."""
    if not categories or not series:
        return empty(chart)
    values = list(series.values())
    if stacked:
        high = max(sum(v[i] for v in values) for i in range(len(categories)))
        low = 0.0
    else:
        high = max(max(v) for v in values)
        low = min(0.0, min(min(v) for v in values))
    frame = _Frame(chart, nice_ticks(low, max(high, 0.0)), fmt)
    for index, category in enumerate(categories):
        left, width = frame.x_slot(index, len(categories))
        inner = width * 0.8
        base = 0.0
        for position, (name, points) in enumerate(series.items()):
            value = points[index]
            colour = PALETTE[position % len(PALETTE)]
            if stacked:
                x, bar_width = left + width * 0.1, inner
                top, bottom = frame.y(base + value), frame.y(base)
                base += value
            else:
                bar_width = inner / len(series)
                x = left + width * 0.1 + position * bar_width
                top, bottom = sorted((frame.y(value), frame.y(0)))
            frame.add(f'<rect x="{x:.1f}" y="{top:.1f}" width="{bar_width:.1f}" '
                      f'height="{max(bottom - top, 0):.1f}" fill="{colour}">'
                      f"<title>{escape(category)} {escape(name)}: {escape(fmt(value))}</title>"
                      f"</rect>")
    frame.x_labels(categories)
    return _figure(chart, frame.svg(list(series) if len(series) > 1 or stacked else ()))


def line_chart(chart: Chart, categories: Sequence[str],
               series: Mapping[str, Sequence[float | None]], *,
               fmt: Callable[[float], str] = number) -> str:
    """One line per series over the categories (a missing value breaks the line)."""
    present = [v for points in series.values() for v in points if v is not None]
    if not categories or not present:
        return empty(chart)
    frame = _Frame(chart, nice_ticks(min(0.0, min(present)), max(max(present), 0.0)), fmt)
    for position, (name, points) in enumerate(series.items()):
        colour = PALETTE[position % len(PALETTE)]
        run: list[str] = []
        for index, value in enumerate([*points, None]):
            if value is not None:
                left, width = frame.x_slot(index, len(categories))
                x, y = left + width / 2, frame.y(value)
                run.append(f"{x:.1f},{y:.1f}")
                frame.add(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                          f"<title>{escape(categories[index])} {escape(name)}: "
                          f"{escape(fmt(value))}</title></circle>")
            elif run:
                frame.add(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                          f'points="{" ".join(run)}"/>')
                run = []
    frame.x_labels(categories)
    return _figure(chart, frame.svg(list(series)))


def interval_chart(chart: Chart, rows: Sequence[tuple[str, float, float, float]], *,
                   fmt: Callable[[float], str] = number) -> str:
    """A point with its interval (low to high) per category, with the zero line."""
    if not rows:
        return empty(chart)
    low = min(0.0, *(r[2] for r in rows))
    high = max(0.0, *(r[3] for r in rows))
    frame = _Frame(chart, nice_ticks(low, high), fmt)
    for index, (label, value, lower, upper) in enumerate(rows):
        left, width = frame.x_slot(index, len(rows))
        x = left + width / 2
        frame.add(f'<line class="interval" x1="{x:.1f}" x2="{x:.1f}" y1="{frame.y(lower):.1f}" '
                  f'y2="{frame.y(upper):.1f}" stroke="{PALETTE[0]}" stroke-width="2"/>'
                  f'<line x1="{x - 8:.1f}" x2="{x + 8:.1f}" y1="{frame.y(lower):.1f}" '
                  f'y2="{frame.y(lower):.1f}" stroke="{PALETTE[0]}" stroke-width="2"/>'
                  f'<line x1="{x - 8:.1f}" x2="{x + 8:.1f}" y1="{frame.y(upper):.1f}" '
                  f'y2="{frame.y(upper):.1f}" stroke="{PALETTE[0]}" stroke-width="2"/>'
                  f'<circle cx="{x:.1f}" cy="{frame.y(value):.1f}" r="5" fill="{PALETTE[1]}">'
                  f"<title>{escape(label)}: {escape(fmt(value))} ({escape(fmt(lower))} to "
                  f"{escape(fmt(upper))})</title></circle>")
    frame.x_labels([r[0] for r in rows])
    return _figure(chart, frame.svg())
