"""Charts drawn by the console itself, as inline SVG: no script, no library, nothing fetched.

Two shapes cover the transparency report: horizontal bars for counts by category (refusals by
reason, purges by trigger) and grouped columns for counts over time (one group per period, one
column per series). Colours come from classes in the console's stylesheet (``series-0`` ...), so
the markup has no ``style`` attribute and the Content-Security-Policy can forbid inline styles.
Every label is escaped; every chart carries a title for screen readers, and pages show the same
numbers in a table beside it.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

_BAR = 22
_GAP = 6
_WIDTH = 640


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    head = (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    )
    return Markup(head + "".join(body) + "</svg>")


def bars(title: str, items: Sequence[tuple[str, int]]) -> Markup:
    """One horizontal bar per (label, count), in the order given, each under its label."""
    if not items:
        return _svg(_WIDTH, 30, title, ['<text class="empty" x="0" y="20">none in this period</text>'])
    top = max(count for _, count in items) or 1
    span = _WIDTH - 60
    row_height = 16 + _BAR + _GAP
    body = []
    for row, (label, count) in enumerate(items):
        y = row * row_height
        length = round(span * count / top, 1)
        body.append(
            f'<text class="label" x="0" y="{y + 12}">{escape(label)}</text>'
            f'<rect class="bar series-0" x="0" y="{y + 16}" width="{length}" height="{_BAR}">'
            f"<title>{escape(label)}: {count}</title></rect>"
            f'<text class="value" x="{length + 6}" y="{y + 16 + _BAR - 6}">{count}</text>'
        )
    return _svg(_WIDTH, len(items) * row_height, title, body)


def columns(title: str, periods: Sequence[str], series: Sequence[tuple[str, Sequence[int]]]) -> Markup:
    """Counts over time: for each period a group of columns, one per series, with a legend."""
    height, base, left = 260, 220, 40
    top = max((v for _, values in series for v in values), default=0) or 1
    group = (_WIDTH - left) / max(len(periods), 1)
    column = max(min((group - 8) / max(len(series), 1), 28), 2)
    body = [
        f'<line class="axis" x1="{left}" y1="{base}" x2="{_WIDTH}" y2="{base}"/>',
        f'<text class="value" x="{left - 6}" y="24" text-anchor="end">{top}</text>',
        f'<text class="value" x="{left - 6}" y="{base}" text-anchor="end">0</text>',
    ]
    for p, period in enumerate(periods):
        x0 = left + p * group + 4
        for s, (name, values) in enumerate(series):
            value = values[p] if p < len(values) else 0
            h = round((base - 20) * value / top, 1)
            body.append(
                f'<rect class="bar series-{s % 6}" x="{round(x0 + s * column, 1)}" y="{base - h}" '
                f'width="{round(column - 1, 1)}" height="{h}"><title>{escape(period)}, '
                f"{escape(name)}: {value}</title></rect>"
            )
        body.append(
            f'<text class="label" x="{round(x0 + group / 2 - 4, 1)}" y="{base + 16}" '
            f'text-anchor="middle">{escape(period)}</text>'
        )
    legend = (_WIDTH - left) / max(len(series), 1)
    for s, (name, _) in enumerate(series):
        x = round(left + s * legend, 1)
        body.append(
            f'<rect class="bar series-{s % 6}" x="{x}" y="{height - 14}" width="12" height="12"/>'
            f'<text class="label" x="{x + 16}" y="{height - 3}">{escape(name)}</text>'
        )
    return _svg(_WIDTH, height, title, body)
