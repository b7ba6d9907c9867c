"""Replicas over one PostgreSQL (issue 13): real server processes sharing one database.

Enrol through one, search through another, close through a third; an alert raised on one reaches
an operator subscribed to another; a replica killed in the middle of a purge has it finished by
another, once; the client balances over the replicas and retries reads when one is gone. The
fan-out bound is measured in benchmarks/replicas_bench.py, not here.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from sqlalchemy import make_url

from matcher.client import MatcherClient, MatcherError
from matcher.v1 import cases_pb2
from tests.conftest import POSTGRES_URL, START, near, reset_postgres, unit, wait_until
from tests.serverproc import ServerProcess, free_port
from tests.tcpproxy import TcpProxy

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not POSTGRES_URL, reason="replicas need PostgreSQL: set MATCHER_TEST_DATABASE_URL"),
]
REASON = "replica test"


class Replica(ServerProcess):
    def __init__(self, root: Path, name: str, url: str = POSTGRES_URL) -> None:
        super().__init__(root / "data", url, root / "clock", root / f"{name}.log")
        self.metrics_port = free_port()

    def run(self, fault_point: str = "") -> Replica:
        self.start(fault_point, extra=("--metrics-listen", f"127.0.0.1:{self.metrics_port}"))
        self.wait_serving()
        return self

    def metric(self, name: str, **labels: str) -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        total = 0.0
        for line in text.splitlines():
            head, _, number = line.rpartition(" ")
            if line.startswith(name) and all(f'{k}="{v}"' in head for k, v in labels.items()):
                total += float(number)
        return total


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[list[Replica]]:
    """Three replicas on one database and one data folder (the key-encryption key and the local
    tokens are shared, as a deployment shares them through its secret store)."""
    reset_postgres(POSTGRES_URL)
    started = [Replica(tmp_path, f"r{i}") for i in (1, 2, 3)]
    started[0].set_clock(START)
    try:
        started[0].run()  # the first start creates the schema, the key and the local principals
        for replica in started[1:]:
            replica.run()
        yield started
    finally:
        for replica in started:
            replica.stop()


def _matches(client: MatcherClient, case_id: str, probe: object) -> list[str]:
    answer = client.search_faces([case_id], probe, reason=REASON)  # type: ignore[arg-type]
    return [m.subject for m in answer.results[0].matches]


def test_enrol_on_one_search_on_another_close_on_a_third(replicas: list[Replica]) -> None:
    r1, r2, r3 = replicas
    with r1.client() as one, r2.client() as two, r3.client() as three:
        one.create_case("rep-1", "Replicas", reason=REASON)
        one.create_subject("rep-1", "s-1", "suspect", label="S1", reason=REASON)
        one.enroll_face("rep-1", "s-1", unit(11), reason=REASON)
        assert wait_until(lambda: _matches(two, "rep-1", near(unit(11), 3)) == ["cases/rep-1/subjects/s-1"])
        assert wait_until(lambda: r3.metric("matcher_gallery_templates") == 1)
        one.add_plate("rep-1", "KRW301", subject_id="s-1", reason=REASON)
        assert wait_until(lambda: r2.metric("matcher_watchlist_plates") == 1)
        three.close_case("rep-1", reason=REASON)
        # Never answered with revoked data, even inside the fan-out bound...
        for client in (one, two):
            with pytest.raises(MatcherError) as closed:
                client.search_faces(["rep-1"], unit(11), reason=REASON)
            assert closed.value.reason == "CASE_CLOSED"
        # ...and gone from every replica's memory.
        for replica in replicas:
            assert wait_until(lambda r=replica: r.metric("matcher_gallery_templates") == 0)
            assert wait_until(lambda r=replica: r.metric("matcher_watchlist_plates") == 0)
        assert wait_until(lambda: [p.state for p in two.list_purges("rep-1")] == [cases_pb2.Purge.DONE])
    with r2.client("local-auditor") as auditor:
        receipts = [r for r in auditor.audit_records(action="purge.receipt") if r.resource == "cases/rep-1"]
        assert len(receipts) == 1
        assert auditor.verify_audit().ok
    # The purge rotated the shared KEK (P18): keys made afterwards through any replica are
    # wrapped by the new generation, which every replica reads, and survive restarts.
    keys = r1.data_dir / "keys"
    assert sorted(p.name for p in keys.glob("kek*")) == ["kek.1"]
    with r2.client() as two, r3.client() as three:
        two.create_case("rep-2", "After the rotation", reason=REASON)
        two.create_subject("rep-2", "s-2", "suspect", label="S2", reason=REASON)
        two.enroll_face("rep-2", "s-2", unit(12), reason=REASON)
        assert wait_until(lambda: _matches(three, "rep-2", unit(12)) == ["cases/rep-2/subjects/s-2"])
    for replica in replicas:
        replica.stop()
    r1.run()
    with r1.client() as one:
        assert _matches(one, "rep-2", unit(12)) == ["cases/rep-2/subjects/s-2"]


def test_an_alert_raised_on_one_replica_reaches_an_operator_on_another(replicas: list[Replica]) -> None:
    r1, r2, _ = replicas
    face = unit(21)
    with r1.client("local-admin") as admin, r1.client("local-registry") as registry:
        admin.create_camera("cam-1", description="gate", reason=REASON)
        admin.create_zone("park", ["cam-1"], description="park", reason=REASON)
        admin.set_operator_zones("local-operator", ["park"], reason=REASON)
        registry.create_order(
            "o-1",
            label="RI-1",
            legal_reference="Order 26-PO-7",
            zones=["park"],
            start=START,
            end=START + timedelta(days=1),
            reason=REASON,
        )
        registry.enroll_order_face("o-1", face, reason=REASON)
    received: list[str] = []
    operator = r2.client("local-operator")

    def listen() -> None:
        try:
            for alert in operator.subscribe_alerts(timeout=20):
                received.append(alert.order)
                return
        except MatcherError:
            pass

    listener = threading.Thread(target=listen)
    listener.start()
    try:
        with r2.client("local-auditor") as auditor:
            assert wait_until(lambda: any(True for _ in auditor.audit_records(action="alerts.watch")))
        r1.set_clock(START + timedelta(hours=1))
        with r1.client("local-camera") as camera:
            # r1 learns of the order's template through the feed too (it was enrolled there).
            assert camera.report_sighting("cam-1", START + timedelta(hours=1), [near(face, 7)]).accepted
        listener.join(timeout=20)
    finally:
        operator.close()
    assert received == ["orders/o-1"]


def test_a_replica_killed_mid_purge_has_it_finished_by_another_once(tmp_path: Path) -> None:
    reset_postgres(POSTGRES_URL)
    r1, r2 = Replica(tmp_path, "r1"), Replica(tmp_path, "r2")
    r1.set_clock(START)
    try:
        r1.run(fault_point="purge.after_key_destroyed")
        r2.run()
        with r1.client() as one:
            one.create_case("rep-k", "Killed", reason=REASON)
            one.create_subject("rep-k", "s-1", "suspect", label="S1", reason=REASON)
            one.enroll_face("rep-k", "s-1", unit(31), reason=REASON)
            assert wait_until(lambda: r2.metric("matcher_gallery_templates") == 1)
            one.close_case("rep-k", reason=REASON)
        # r1's worker takes the purge first (it was told at once; r2 learns through the feed)
        # and kills itself after destroying the keys; r2 finishes it once r1's lock is gone.
        assert r1.wait_exit(timeout=30) == -signal.SIGKILL
        with r2.client() as two:
            assert wait_until(
                lambda: [p.state for p in two.list_purges("rep-k")] == [cases_pb2.Purge.DONE], timeout=30
            )
        assert r2.metric("matcher_gallery_templates") == 0
        with r2.client("local-auditor") as auditor:
            receipts = [
                r for r in auditor.audit_records(action="purge.receipt") if r.resource == "cases/rep-k"
            ]
            assert len(receipts) == 1
            assert auditor.verify_audit().ok
    finally:
        r1.stop()
        r2.stop()


def test_the_client_balances_over_replicas_and_retries_reads_when_one_is_gone(
    replicas: list[Replica],
) -> None:
    targets = ",".join(f"127.0.0.1:{r.port}" for r in replicas)
    token = replicas[0].data_dir / "tokens" / "local-investigator.token"
    with MatcherClient.connect(targets, token_file=token, timeout=10) as client:
        client.create_case("rep-b", "Balanced", reason=REASON)
        for _ in range(6):
            list(client.list_cases())
        served = [r.metric("matcher_rpc_calls_total", method="ListCases", code="OK") for r in replicas]
        assert sum(served) == 6 and all(count >= 1 for count in served), served
        replicas[1].process.kill()  # type: ignore[union-attr]
        replicas[1].wait_exit()
        for _ in range(6):  # every read still answers: the channel skips the dead replica
            assert [c.name for c in client.list_cases()] == ["cases/rep-b"]


def test_a_gateway_hit_on_one_replica_reaches_the_investigator_watching_on_another(
    replicas: list[Replica],
) -> None:
    r1, r2, _ = replicas
    with r1.client() as one:
        one.create_case("rep-h", "Hits", reason=REASON)
        one.add_plate("rep-h", "KRW301", reason=REASON)
    assert wait_until(lambda: r1.metric("matcher_watchlist_plates") == 1)
    received: list[str] = []
    watcher = r2.client()

    def watch() -> None:
        try:
            for hit in watcher.watch_plate_hits("rep-h", timeout=20):
                received.append(hit.camera)
                return
        except MatcherError:
            pass

    listener = threading.Thread(target=watch)
    listener.start()
    try:
        with r2.client("local-auditor") as auditor:
            assert wait_until(lambda: any(True for _ in auditor.audit_records(action="plate.hits.watch")))
        with r1.client("local-camera") as camera:
            assert camera.check_plate("KRW301", camera="lpr-7", reason="hotlist").results[0].hit
        listener.join(timeout=20)
    finally:
        watcher.close()
    assert received and "lpr-7" in received[0]


def test_a_replica_that_loses_its_database_answers_unavailable_then_catches_up(tmp_path: Path) -> None:
    """Its connection to PostgreSQL cut for a few seconds: calls are UNAVAILABLE (never INTERNAL,
    never an answer from memory alone), and once it is back the replica has every change the
    others committed meanwhile (an enrolment to match, a close to forget)."""
    reset_postgres(POSTGRES_URL)
    url = make_url(POSTGRES_URL)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    r1, r2 = Replica(tmp_path, "r1"), Replica(tmp_path, "r2", proxied)
    r1.set_clock(START)
    try:
        r1.run()
        r2.run()
        with r1.client() as one, r2.client() as two:
            for case in ("rep-d", "rep-x"):
                one.create_case(case, "Outage", reason=REASON)
                one.create_subject(case, "s-1", "suspect", label="S1", reason=REASON)
            one.enroll_face("rep-x", "s-1", unit(41), reason=REASON)
            assert wait_until(lambda: _matches(two, "rep-x", unit(41)) == ["cases/rep-x/subjects/s-1"])
            proxy.cut()
            with pytest.raises(MatcherError) as away:
                two.search_faces(["rep-x"], unit(41), reason=REASON)
            assert (away.value.code.name, away.value.reason) == ("UNAVAILABLE", "DATABASE_UNAVAILABLE")
            one.enroll_face("rep-d", "s-1", unit(42), reason=REASON)  # while r2 cannot see
            one.close_case("rep-x", reason=REASON)
            proxy.restore()

            def caught_up() -> bool:
                try:
                    return _matches(two, "rep-d", unit(42)) == ["cases/rep-d/subjects/s-1"]
                except MatcherError:
                    return False

            assert wait_until(caught_up, timeout=30)
            assert wait_until(lambda: r2.metric("matcher_gallery_templates") == 1, timeout=30)
    finally:
        r1.stop()
        r2.stop()
        proxy.close()


def test_the_replicas_benchmark_runs_at_toy_size() -> None:
    """benchmarks/replicas_bench.py end to end, tiny: every figure present and positive."""
    from benchmarks import replicas_bench

    result = replicas_bench.run(POSTGRES_URL, rounds=2, seconds=0.5)
    assert [r["replicas"] for r in result["throughput"]] == [1, 2, 3]
    for figures in result["throughput"]:
        assert (
            figures["searches_per_s"] > 0 and figures["sightings_per_s"] > 0 and figures["health_per_s"] > 0
        )
    assert result["fan_out"]["enrolment"]["rounds"] == 2 and result["fan_out"]["revocation"]["p99_ms"] > 0


def test_a_replica_killed_in_a_burst_of_sightings_loses_no_answered_alert(tmp_path: Path) -> None:
    """Sightings go to replica 1, which is killed -9 in the middle of the burst: every sighting it
    answered raised its alert, and an operator of replica 2 receives each of them (at least
    once: one whose answer the kill swallowed may be there too), and the chain verifies."""
    reset_postgres(POSTGRES_URL)
    r1, r2 = Replica(tmp_path, "r1"), Replica(tmp_path, "r2")
    r1.set_clock(START)
    face = unit(51)
    try:
        r1.run()
        r2.run()
        with r1.client("local-admin") as admin, r1.client("local-registry") as registry:
            admin.create_camera("cam-1", description="gate", reason=REASON)
            admin.create_zone("park", ["cam-1"], description="park", reason=REASON)
            admin.set_operator_zones("local-operator", ["park"], reason=REASON)
            registry.create_order(
                "o-1",
                label="RI-1",
                legal_reference="Order 26-PO-7",
                zones=["park"],
                start=START,
                end=START + timedelta(days=1),
                reason=REASON,
            )
            registry.enroll_order_face("o-1", face, reason=REASON)
        r1.set_clock(START + timedelta(hours=1))
        answered = 0
        killer = threading.Timer(1.5, lambda: r1.process.kill())  # type: ignore[union-attr]
        killer.start()
        with r1.client("local-camera") as camera:
            for n in range(10_000):
                try:
                    at = START + timedelta(hours=1) - timedelta(milliseconds=n)
                    camera.report_sighting("cam-1", at, [near(face, n)])
                    answered += 1
                except MatcherError:
                    break
        killer.join()
        assert r1.wait_exit(timeout=30) == -signal.SIGKILL and answered > 0
        with r2.client("local-operator") as operator:
            received: set[str] = set()
            stream = operator.alert_stream(timeout=15)  # the backlog: every unacknowledged alert
            with contextlib.suppress(MatcherError, grpc.RpcError):  # the deadline ends a short one
                for alert in stream:
                    received.add(alert.name)
                    if len(received) >= answered:
                        stream.cancel()
                        break
        assert answered <= len(received) <= answered + 1
        with r2.client("local-auditor") as auditor:
            assert auditor.verify_audit().ok
    finally:
        r1.stop()
        r2.stop()
