"""The public transparency page (P17; Executive Order 78 and Section 2.5-2.6 of the policy).

The figures come from the service's transparency report (``lifecycle/report.py``), which counts
the audit log alone after verifying its chain, read with an auditor's client. The page states,
for each technology, how it is used, whether it uses artificial intelligence, the units in use
and how its effectiveness is measured, plus complaints, the retention rules and the date the
figures were verified. It holds counts only: no name, plate, place, camera, case or reason can
appear, because nothing here reads anything but numbers out of the report (category keys become
fixed words of this module; a refusal reason is shown only as the policy rule it belongs to).

``FIGURES`` is the one mapping from the report's JSON to the page: a figure added to the report
is published by adding one line here. A path names a number in the JSON (``figures.alerts``);
``a / b`` publishes a ratio.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any, Final

from markupsafe import Markup

from matcher.console import charts
from matcher.console.refusals import REASONS, RULES


@dataclass(frozen=True)
class Technology:
    key: str
    name: str
    use: str
    ai: str
    effectiveness: str


TECHNOLOGIES: Final[tuple[Technology, ...]] = (
    Technology(
        "faces",
        "Face recognition in criminal investigations",
        "Investigators compare a still image with the persons of interest and suspects of their own "
        "open cases (Table 1, public safety: criminal investigations). Nobody else is enrolled, and "
        "faces that match nothing are not kept.",
        "Yes. Neural networks find faces in a photo and turn each into a template; a person reviews "
        "every candidate match.",
        "Searches made, faces searched and candidate matches returned, against enrolments; every "
        "candidate is reviewed by an investigator before it is acted on.",
    ),
    Technology(
        "plates",
        "Licence-plate watchlists",
        "Plates of vehicles tied to an open case are checked against plate reads (Table 1, public "
        "safety). Reads that match nothing are not kept.",
        "Partly. Reading a plate from a photo uses neural networks; comparing a read with the "
        "watchlist follows fixed rules, without AI.",
        "Plate reads checked and hits found, against the plates on watchlists.",
    ),
    Technology(
        "orders",
        "Registered-individual zone alerts",
        "Faces seen by cameras inside the zones of a court order, during its period, are compared with "
        "the person the order names (Table 1, registered individuals); alert operators are told.",
        "Yes. The same face recognition as above.",
        "Alerts raised, against the orders in force.",
    ),
    Technology(
        "system",
        "The whole system",
        "Destruction of data when its legal basis ends, refusals, legal holds, disclosures and waivers.",
        "Not applicable.",
        "Purges completed and their receipts, refusals by policy rule, complaints received.",
    ),
)

# technology key, label, path in the report's JSON (or "a / b" for a ratio): one line per figure.
FIGURES: Final[tuple[tuple[str, str, str], ...]] = (
    ("faces", "Cases opened", "figures.cases_opened"),
    ("faces", "Cases closed", "figures.cases_closed"),
    ("faces", "Face templates enrolled", "figures.templates_enrolled"),
    ("faces", "Face searches", "figures.face_searches"),
    ("faces", "Faces searched", "figures.face_probes"),
    ("faces", "Candidate matches returned", "figures.face_hits"),
    ("faces", "Candidate matches per search", "figures.face_hits / figures.face_searches"),
    ("plates", "Plates added to watchlists", "figures.plate_entries_added"),
    ("plates", "Plate checks", "figures.plate_checks"),
    ("plates", "Plate reads checked", "figures.plate_reads"),
    ("plates", "Plate hits", "figures.plate_hits"),
    ("plates", "Hits per read checked", "figures.plate_hits / figures.plate_reads"),
    ("plates", "Devices in use (cameras submitting reads)", "figures.cameras_reporting"),
    ("orders", "Orders created", "figures.orders_created"),
    ("orders", "Orders ended or revoked", "figures.orders_ended"),
    ("orders", "Alerts", "figures.alerts"),
    ("orders", "Cameras registered", "figures.cameras_registered"),
    ("system", "Purges completed", "figures.purges"),
    ("system", "Face templates destroyed", "figures.templates_destroyed"),
    ("system", "Watchlist plates destroyed", "figures.plate_entries_destroyed"),
    ("system", "Legal holds placed", "figures.holds_placed"),
    ("system", "Disclosure decisions", "figures.disclosure_decisions"),
    ("system", "Disclosures released", "figures.disclosures_released"),
    ("system", "Waivers granted", "figures.waivers_granted"),
    ("system", "Refusals", "figures.refusals"),
    ("system", "Complaints", "figures.complaints"),
)

# Series drawn over time: label, path.
SERIES: Final[tuple[tuple[str, str], ...]] = (
    ("Enrolments", "figures.templates_enrolled"),
    ("Face searches", "figures.face_searches"),
    ("Plate checks", "figures.plate_checks"),
    ("Alerts", "figures.alerts"),
    ("Purges", "figures.purges"),
    ("Refusals", "figures.refusals"),
)

TRIGGERS: Final[Mapping[str, str]] = {
    "CASE_CLOSED": "Case closed (P3)",
    "SUBJECT_RELEASED": "Person no longer of interest (P2)",
    "ORDER_ENDED": "Order's period ended (P5)",
    "ORDER_REVOKED": "Order revoked (P5)",
    "WAIVER_ENDED": "Waiver's period ended (P15)",
    "WAIVER_REVOKED": "Waiver revoked (P15)",
}

RETENTION: Final[tuple[str, ...]] = (
    "Face templates and plates of a case are kept only while the case is open and the person is a "
    "person of interest or suspect; they are destroyed when the case closes or the person is released "
    "(P2, P3), unless a recorded legal hold with an end date requires otherwise (P4).",
    "A registered individual's data is kept only for the period of the court order, and destroyed "
    "when it ends or is revoked, with the alerts it raised (P5, P8).",
    "Faces and plates that match nothing are used once and not kept (P7).",
    "Camera data is kept 30 days, and up to 90 days for some cameras only by decision of the "
    "Director of Public Safety (P9); this system keeps no camera footage or plate reads at all.",
    "Each destruction is receipted in the audit log, which is kept, tamper-evident, without any "
    "face, template or plate (P8, P16).",
)


def value(report: Mapping[str, Any], path: str) -> float:
    """The number at ``path`` in the report's JSON (0 when absent); ``a / b`` divides."""
    if "/" in path:
        numerator, denominator = (value(report, part.strip()) for part in path.split("/", 1))
        return round(numerator / denominator, 2) if denominator else 0.0
    node: Any = report
    for key in path.split("."):
        node = node.get(key, 0) if isinstance(node, Mapping) else 0
    return node if isinstance(node, int | float) and not isinstance(node, bool) else 0


def refusals_by_rule(report: Mapping[str, Any]) -> list[tuple[str, int]]:
    """Refusals grouped by the policy rule their reason belongs to (reasons themselves not shown)."""
    counts: dict[str, int] = {}
    for reason, count in (report.get("refusals_by_reason") or {}).items():
        known = REASONS.get(str(reason))
        key = (
            f"{known.rule}: {RULES[known.rule]}" if known and known.rule else "Invalid or incomplete requests"
        )
        counts[key] = counts.get(key, 0) + int(count)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def purges_by_trigger(report: Mapping[str, Any]) -> list[tuple[str, int]]:
    rows = report.get("purges_by_trigger") or {}
    return [
        (TRIGGERS.get(str(t).upper(), "Other"), int((v or {}).get("purges", 0)))
        for t, v in sorted(rows.items())
    ]


def periods(start: datetime, end: datetime, most: int = 12) -> list[tuple[datetime, datetime, str]]:
    """Consecutive periods covering ``[start, end)``: months, weeks or days, at most ``most``."""
    span = end - start
    boundaries = [start]
    if span > timedelta(days=62):
        at = start
        while at < end and len(boundaries) <= most:
            at = datetime(at.year + at.month // 12, at.month % 12 + 1, 1, tzinfo=UTC)
            boundaries.append(min(at, end))
        label: Callable[[datetime], str] = lambda d: d.strftime("%b %y")  # noqa: E731
    else:
        step = timedelta(days=7) if span > timedelta(days=14) else timedelta(days=1)
        while boundaries[-1] < end and len(boundaries) <= most:
            boundaries.append(min(boundaries[-1] + step, end))
        label = lambda d: d.strftime("%m-%d")  # noqa: E731
    cut = boundaries[-1] < end
    boundaries[-1] = end  # past ``most`` periods, the last one runs to the end
    return [(a, b, label(a) + ("+" if cut and b == end else "")) for a, b in pairwise(boundaries)]


def over_time(
    reports: Sequence[tuple[str, Mapping[str, Any]]], series: Sequence[tuple[str, str]] = SERIES
) -> Markup:
    labels = [label for label, _ in reports]
    return charts.columns(
        "Counts over time",
        labels,
        [(name, [int(value(report, path)) for _, report in reports]) for name, path in series],
    )


@dataclass(frozen=True)
class PublicPage:
    """What the public template needs, numbers and fixed words only."""

    period_start: str
    period_end: str
    verified_at: str
    records: int
    technologies: list[tuple[Technology, list[tuple[str, str]]]]
    refusals: list[tuple[str, int]]
    purges: list[tuple[str, int]]
    refusals_chart: Markup
    purges_chart: Markup
    timeline: Markup
    retention: tuple[str, ...]

    def figures_json(self) -> str:
        return json.dumps(
            {
                "period": {"start": self.period_start, "end": self.period_end},
                "verified_at": self.verified_at,
                "audit_records": self.records,
                "technologies": {
                    tech.key: {label: number for label, number in rows} for tech, rows in self.technologies
                },
                "refusals_by_rule": dict(self.refusals),
                "purges_by_trigger": dict(self.purges),
            },
            indent=2,
        )


def _shown(number: float) -> str:
    return f"{number:,.2f}" if isinstance(number, float) and not number.is_integer() else f"{int(number):,}"


def public_page(
    report: Mapping[str, Any], timeline: Sequence[tuple[str, Mapping[str, Any]]], verified_at: datetime
) -> PublicPage:
    """The page of a report whose chain was verified (refuses any other)."""
    if (report.get("audit") or {}).get("chain_verified") is not True:
        raise ValueError("the audit chain was not verified: no figure is published from it")
    refusals, purges = refusals_by_rule(report), purges_by_trigger(report)
    return PublicPage(
        period_start=str(report["period"]["start"])[:10],
        period_end=str(report["period"]["end"])[:10],
        verified_at=verified_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        records=int(value(report, "audit.records")),
        technologies=[
            (tech, [(label, _shown(value(report, path))) for key, label, path in FIGURES if key == tech.key])
            for tech in TECHNOLOGIES
        ],
        refusals=refusals,
        purges=purges,
        refusals_chart=charts.bars("Refusals by policy rule", refusals),
        purges_chart=charts.bars("Purges by trigger", purges),
        timeline=over_time(timeline),
        retention=RETENTION,
    )


def write(out: Path, html: str, page: PublicPage, stylesheet: Path) -> list[Path]:
    """The static files of the public page: index.html, figures.json and the stylesheet."""
    out.mkdir(parents=True, exist_ok=True)
    index, figures, css = out / "index.html", out / "figures.json", out / "console.css"
    index.write_text(html, encoding="utf-8")
    figures.write_text(page.figures_json() + "\n", encoding="utf-8")
    shutil.copyfile(stylesheet, css)
    return [index, figures, css]
