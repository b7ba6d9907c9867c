"""The console's parts on their own: the refusal table, charts, figures, sessions, forms, photos."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from lifecycle.report import FIGURES as REPORT_FIGURES
from matcher.console import charts, photos, refusals, transparency
from matcher.console.sessions import SessionStore, SignInTokens
from matcher.status_details import image_details
from matcher.v1 import errors_pb2

PROTO = Path(__file__).resolve().parents[2] / "protos" / "matcher" / "v1" / "errors.proto"


def test_every_error_reason_of_the_contract_is_explained_in_plain_words() -> None:
    in_proto = set(re.findall(r"^\s+([A-Z][A-Z0-9_]+) = \d+;", PROTO.read_text(), re.M))
    assert in_proto == set(errors_pb2.ErrorReason.keys())
    assert set(refusals.REASONS) == in_proto, "add the new reasons to matcher/console/refusals.py"
    for reason, explanation in refusals.REASONS.items():
        assert explanation.words.endswith((".", ")")) and len(explanation.words) > 20, reason
        assert explanation.rule is None or explanation.rule in refusals.RULES, reason


def test_the_rules_are_the_policys_rules() -> None:
    assert list(refusals.RULES) == [f"P{n}" for n in range(1, 19)]


def test_explain_prefers_the_services_rule_and_falls_back_on_the_code() -> None:
    closed = refusals.explain("FAILED_PRECONDITION", "CASE_CLOSED")
    assert (closed.rule, closed.rule_words) == ("P3", refusals.RULES["P3"])
    assert refusals.explain("FAILED_PRECONDITION", "CASE_CLOSED", "P1").rule == "P1"
    down = refusals.explain("UNAVAILABLE", "")
    assert down.rule is None and "cannot be reached" in down.words
    assert refusals.explain("INTERNAL", "SOMETHING_NEW").words == refusals.UNEXPLAINED


def test_bars_are_proportional_and_labels_escaped() -> None:
    svg = str(charts.bars("Refusals", [("<script>x</script>", 10), ("B", 5)]))
    widths = [float(w) for w in re.findall(r'<rect class="bar series-0"[^>]* width="([\d.]+)"', svg)]
    assert widths[0] == pytest.approx(2 * widths[1])
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "style=" not in svg
    assert "none in this period" in str(charts.bars("Empty", []))


def test_columns_draw_one_column_per_period_and_series() -> None:
    svg = str(charts.columns("Over time", ["2026-01", "2026-02"], [("A", [1, 2]), ("B", [0, 4])]))
    assert svg.count('<rect class="bar') == 2 * 2 + 2  # columns plus the legend's swatches
    assert "2026-02, B: 4" in svg


def test_every_published_figure_is_one_the_report_computes() -> None:
    computed = {f"figures.{key}" for key, _ in REPORT_FIGURES}
    paths = [path for _, _, path in transparency.FIGURES] + [path for _, path in transparency.SERIES]
    for path in paths:
        for part in path.split("/"):
            assert part.strip() in computed, f"{part.strip()} is not in lifecycle/report.py"
    assert {key for key, _, _ in transparency.FIGURES} == {t.key for t in transparency.TECHNOLOGIES}


def test_values_and_ratios_from_the_report_json() -> None:
    report = {"figures": {"face_hits": 3, "face_searches": 4, "plate_reads": 0}}
    assert transparency.value(report, "figures.face_hits") == 3
    assert transparency.value(report, "figures.face_hits / figures.face_searches") == 0.75
    assert transparency.value(report, "figures.plate_hits / figures.plate_reads") == 0.0
    assert transparency.value(report, "figures.absent") == 0


def test_refusals_are_published_by_rule_never_by_reason() -> None:
    report = {"refusals_by_reason": {"CASE_NOT_ASSIGNED": 2, "ROLE_NOT_PERMITTED": 1, "FIELD_INVALID": 4}}
    rows = dict(transparency.refusals_by_rule(report))
    assert rows == {f"P10: {refusals.RULES['P10']}": 3, "Invalid or incomplete requests": 4}


def test_periods_are_months_weeks_or_days_and_cover_the_whole_span() -> None:
    def at(year: int, month: int, day: int) -> datetime:
        return datetime(year, month, day, tzinfo=UTC)

    months = transparency.periods(at(2026, 1, 15), at(2026, 6, 1))
    assert [label for _, _, label in months] == ["Jan 26", "Feb 26", "Mar 26", "Apr 26", "May 26"]
    assert months[0][0] == at(2026, 1, 15) and months[-1][1] == at(2026, 6, 1)
    assert len(transparency.periods(at(2026, 1, 1), at(2026, 1, 29))) == 4
    assert len(transparency.periods(at(2026, 1, 1), at(2026, 1, 8))) == 7
    long = transparency.periods(at(2020, 1, 1), at(2026, 1, 1))
    assert len(long) == 12 and long[-1][1] == at(2026, 1, 1) and long[-1][2].endswith("+")


def test_an_unverified_report_is_never_made_public() -> None:
    report = {"period": {"start": "2026-01-01", "end": "2027-01-01"}, "audit": {"chain_verified": False}}
    with pytest.raises(ValueError, match="not verified"):
        transparency.public_page(report, [], datetime.now(UTC))


def test_sessions_expire_after_inactivity_and_the_oldest_makes_room() -> None:
    now = [0.0]
    store = SessionStore(idle=60, limit=2, clock=lambda: now[0])
    client = object()
    a = store.create("a", "", frozenset(), client, False)  # type: ignore[arg-type]
    now[0] = 50
    assert store.get(a.sid) is a  # activity at 50 ...
    now[0] = 100
    assert store.get(a.sid, touch=False) is a  # ... keeps it alive at 100
    now[0] = 111
    assert store.get(a.sid) is None and len(store) == 0
    b = store.create("b", "", frozenset(), client, False)  # type: ignore[arg-type]
    c = store.create("c", "", frozenset(), client, False)  # type: ignore[arg-type]
    d = store.create("d", "", frozenset(), client, False)  # type: ignore[arg-type]
    assert store.get(b.sid) is None and store.get(c.sid) is c and store.get(d.sid) is d
    assert c.csrf != d.csrf and c.csrf_ok(c.csrf) and not c.csrf_ok(d.csrf) and not c.csrf_ok("")


def test_sign_in_tokens_are_bound_to_their_nonce_and_process() -> None:
    tokens, other = SignInTokens(), SignInTokens()
    nonce = tokens.nonce()
    assert tokens.valid(nonce, tokens.token(nonce))
    assert not tokens.valid(tokens.nonce(), tokens.token(nonce))
    assert not other.valid(nonce, tokens.token(nonce))
    assert not tokens.valid("", tokens.token(""))


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_pixel_size_from_the_header_only(ext: str) -> None:
    ok, encoded = cv2.imencode(ext, np.zeros((123, 456, 3), dtype=np.uint8))
    assert ok
    assert photos.pixel_size(encoded.tobytes()) == (456, 123)
    assert photos.pixel_size(b"GIF89a...") is None
    assert photos.pixel_size(b"\xff\xd8\xff") is None


def test_photo_round_trips_through_a_form_and_boxes_come_from_the_refusal() -> None:
    data = bytes(range(256)) * 10
    assert photos.from_form(photos.to_form(data), 10_000) == data
    assert photos.from_form("not base64!", 10_000) is None
    assert photos.from_form(photos.to_form(data), 100) is None
    detail = '{"faces": [{"box": [1, 2, 30, 40], "det_score": 0.9, "rejected": null}, {"box": [5]}]}'
    assert photos.boxes_from_refusal(image_details({"faces": detail})) == []  # malformed: nothing drawn
    [box] = photos.boxes_from_refusal(image_details({"faces": detail.replace(', {"box": [5]}', "")}))
    assert (box.number, box.value, box.width, box.score) == (1, "1,2,30,40", 29.0, 0.9)
    assert photos.parse_box("1,2,30,40") == (1.0, 2.0, 30.0, 40.0) and photos.parse_box("1,2") is None
