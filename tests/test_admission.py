"""Issue 17: what a caller can do to the service before it is authorised, and with its share.

Every test here uses real stalled clients against a real server on loopback: calls that send
headers and never a body, reflection streams that send nothing, idle alert and notice streams,
a thousand subscribers, large unauthenticated bodies. The service must keep answering health
checks and searches within their normal latency, refuse what is beyond a principal's share, and
never let an unauthenticated caller lock an account (P11) or cost it memory.
"""

from __future__ import annotations

import asyncio
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from matcher.client import MatcherClient, MatcherError
from matcher.v1 import faces_pb2, governance_pb2, sightings_pb2
from tests.conftest import START, Harness, near, open_case_with_subject, running_server, unit, wait_until
from tests.serverproc import REPO, ServerProcess

SEARCH = "/matcher.v1.FaceService/SearchFaces"
REFLECTION = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"


class Stall:
    """Calls that are opened and then send nothing, until released."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.channel = channel
        self.gates: list[queue.Queue[bytes | None]] = []
        self.futures: list[grpc.Future[bytes]] = []  # client streams
        self.streams: list[grpc.Call] = []  # bidirectional streams

    def _silence(self, gate: queue.Queue[bytes | None]) -> Iterator[bytes]:
        while (item := gate.get()) is not None:
            yield item

    def open(
        self, method: str, count: int, metadata: tuple[tuple[str, str], ...] = (), *, bidi: bool = False
    ) -> None:
        for _ in range(count):
            gate: queue.Queue[bytes | None] = queue.Queue()
            self.gates.append(gate)
            if bidi:
                both: grpc.StreamStreamMultiCallable[bytes, bytes] = self.channel.stream_stream(method)
                self.streams.append(both(self._silence(gate), timeout=120, metadata=metadata))
            else:
                upload: grpc.StreamUnaryMultiCallable[bytes, bytes] = self.channel.stream_unary(method)
                self.futures.append(upload.future(self._silence(gate), timeout=120, metadata=metadata))

    def release(self) -> None:
        for gate in self.gates:
            gate.put(None)
        for future in self.futures:
            future.cancel()
        for stream in self.streams:
            stream.cancel()


def _latencies(h: Harness, client: MatcherClient, rounds: int = 15) -> tuple[float, float]:
    health = health_pb2_grpc.HealthStub(client._channel)
    checks, searches = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        assert (
            health.Check(health_pb2.HealthCheckRequest(), timeout=10).status
            == health_pb2.HealthCheckResponse.SERVING
        )
        checks.append(time.perf_counter() - started)
        started = time.perf_counter()
        client.search_faces(["c-1"], unit(1), reason="still from the scene")
        searches.append(time.perf_counter() - started)
    return statistics.median(checks), statistics.median(searches)


def test_stalled_calls_idle_streams_and_silent_reflection_do_not_take_the_service_down(
    harness: Harness,
) -> None:
    open_case_with_subject(harness)
    harness.client.enroll_face("c-1", "poi-1", unit(1), reason="booking photo")
    admin = harness.as_("local-admin")
    harness.as_("local-admin").set_operator_zones("local-operator", [], reason="desk")
    fast = MatcherClient(grpc.insecure_channel(harness.target), harness.token(), timeout=10)
    before = _latencies(harness, fast)
    channel = grpc.insecure_channel(harness.target)
    stall = Stall(channel)
    operator = harness.as_("local-operator")
    streams: list[object] = []
    try:
        stall.open(SEARCH, 40)  # unauthenticated: headers, never a body
        stall.open(REFLECTION, 20, bidi=True)  # reflection answers anyone: silent streams
        token = (("authorization", f"Bearer {harness.token()}"),)
        stall.open(SEARCH, 20, token)  # authenticated, body never sent
        watch = sightings_pb2.SubscribeAlertsRequest()
        streams += [
            operator.alerts.SubscribeAlerts(watch, timeout=60, metadata=operator._metadata) for _ in range(16)
        ]
        notices = governance_pb2.WatchNoticesRequest()
        streams += [
            admin.governance.WatchNotices(notices, timeout=60, metadata=admin._metadata) for _ in range(16)
        ]
        time.sleep(0.5)
        during = _latencies(harness, fast)
    finally:
        stall.release()
        for stream in streams:
            stream.cancel()  # type: ignore[attr-defined]
        fast.close()
        channel.close()
    # Every call answered (the old server timed all of them out), within their normal latency:
    # the same order of magnitude as before the stall, in the same run.
    assert during[0] <= 5 * before[0] + 0.1, (before, during)
    assert during[1] <= 5 * before[1] + 0.1, (before, during)


def test_a_principal_beyond_its_share_is_refused_and_others_are_not(tmp_path: Path, backend: str) -> None:
    with running_server(
        tmp_path / "data", backend, max_calls_per_principal=8, request_body_timeout_seconds=1.0
    ) as h:
        open_case_with_subject(h)
        channel = grpc.insecure_channel(h.target)
        stall = Stall(channel)
        try:
            stall.open(SEARCH, 8, (("authorization", f"Bearer {h.token()}"),))
            time.sleep(0.3)
            with pytest.raises(MatcherError) as error:
                h.client.search_faces(["c-1"], unit(1), reason="ninth call")
            assert (error.value.code, error.value.reason) == (
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "TOO_MANY_CALLS",
            )
            assert h.as_("local-auditor").verify_audit().ok  # somebody else is served
            # The stalled bodies time out and give their slots back.
            for call in stall.futures:
                with pytest.raises(grpc.RpcError) as stalled:
                    call.result(timeout=10)
                assert stalled.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert h.client.search_faces(["c-1"], unit(1), reason="after the stall").results
        finally:
            stall.release()
            channel.close()


def test_a_thousand_subscribers_all_get_the_alert_and_the_sighting_answers(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", "sqlite", max_streams_per_principal=2000) as h:
        admin, registry, camera = h.as_("local-admin"), h.as_("local-registry"), h.as_("local-camera")
        admin.create_camera("cam-1", description="gate", reason="installed")
        admin.create_zone("park", ["cam-1"], description="park", reason="zone")
        admin.set_operator_zones("local-operator", ["park"], reason="park desk")
        registry.create_order(
            "o-1",
            label="RI-1",
            legal_reference="Circuit Court 26-PO-7",
            zones=["park"],
            start=START,
            end=START + timedelta(days=1),
            reason="protection order",
        )
        registry.enroll_order_face("o-1", unit(7), reason="photo from the order file")
        h.clock.set(START + timedelta(hours=1))
        metadata = (("authorization", f"Bearer {h.token('local-operator')}"),)

        async def watchers() -> list[str]:
            # Twenty consoles' connections of fifty streams each (a connection takes at most
            # max_streams_per_connection streams, as HTTP/2 allows a server to say).
            local = [("grpc.use_local_subchannel_pool", 1)]  # one connection per channel
            channels = [grpc.aio.insecure_channel(h.target, options=local) for _ in range(20)]
            try:
                calls = []
                for channel in channels:
                    subscribe = channel.unary_stream(
                        "/matcher.v1.AlertService/SubscribeAlerts",
                        request_serializer=sightings_pb2.SubscribeAlertsRequest.SerializeToString,
                        response_deserializer=sightings_pb2.Alert.FromString,
                    )
                    request = sightings_pb2.SubscribeAlertsRequest()
                    calls += [subscribe(request, timeout=60, metadata=metadata) for _ in range(50)]
                await asyncio.sleep(2.0)  # every stream subscribed

                def sight() -> float:
                    started = time.perf_counter()
                    assert camera.report_sighting(
                        "cam-1", START + timedelta(hours=1), [near(unit(7), 3)]
                    ).accepted
                    return time.perf_counter() - started

                took = await asyncio.get_running_loop().run_in_executor(None, sight)
                assert took < 10, f"the sighting took {took:.1f} s with 1,000 subscribers"
                got = []
                for call in calls:
                    alert = await asyncio.wait_for(call.read(), 30)
                    assert isinstance(alert, sightings_pb2.Alert), "the stream ended before its alert"
                    got.append(alert.name)
                    call.cancel()
                return got
            finally:
                for channel in channels:
                    await channel.close()

        names = asyncio.run(watchers())
        assert len(names) == 1000 and len(set(names)) == 1


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="needs Linux /proc to read the server's memory"
)
def test_unauthenticated_large_bodies_are_refused_before_they_are_held(tmp_path: Path) -> None:
    server = ServerProcess(
        tmp_path / "data", f"sqlite:///{tmp_path / 'm.db'}", tmp_path / "clock", tmp_path / "log"
    )
    server.set_clock(START)
    server.start()
    try:
        server.wait_serving()
        before = _rss_kib(server.process.pid)  # type: ignore[union-attr]
        body = faces_pb2.EnrollFaceRequest(
            parent="cases/c-1/subjects/s-1",
            face=faces_pb2.FaceInput(image=faces_pb2.Image(data=b"\xff" * (17 * 1024 * 1024))),
            reason="r",
        ).SerializeToString()
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            enrol: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
                "/matcher.v1.FaceService/EnrollFace"
            )
            calls = [enrol.future(body, timeout=60) for _ in range(100)]
            codes = []
            for call in calls:
                with pytest.raises(grpc.RpcError) as error:
                    call.result()
                codes.append(error.value.code())
        after = _rss_kib(server.process.pid)  # type: ignore[union-attr]
        assert set(codes) == {grpc.StatusCode.UNAUTHENTICATED}
        # 100 x 17 MiB were sent; the server held none of it (the old one grew by 900 MB).
        assert after - before < 64 * 1024, f"server grew by {(after - before) // 1024} MiB"
    finally:
        server.stop()


def _whoami(h: Harness, token: str, claim: str = "") -> grpc.StatusCode:
    client = MatcherClient(grpc.insecure_channel(h.target), token, timeout=5, principal=claim)
    try:
        client.whoami()
        return grpc.StatusCode.OK
    except MatcherError as error:
        return error.code
    finally:
        client.close()


def test_P11_calls_without_a_credential_claiming_the_administrator_lock_nobody(harness: Harness) -> None:
    for _ in range(10):
        assert _whoami(harness, "", claim="local-admin") == grpc.StatusCode.UNAUTHENTICATED
        assert _whoami(harness, "guessed", claim="local-admin") == grpc.StatusCode.UNAUTHENTICATED
    harness.service.failures.flush()
    assert _whoami(harness, harness.token("local-admin"), "local-admin") == grpc.StatusCode.OK
    assert harness.audit("user.lock") == []
    failures = harness.audit("auth.failure")
    assert sum(r.count for r in failures) == 20 and all(r.resource == "access" for r in failures)


def test_P11_a_token_claiming_to_be_someone_else_counts_against_its_owner(harness: Harness) -> None:
    investigator = harness.token("local-investigator")
    for _ in range(5):
        assert _whoami(harness, investigator, claim="local-auditor") == grpc.StatusCode.UNAUTHENTICATED
    harness.service.failures.flush()
    assert _whoami(harness, harness.token("local-auditor")) == grpc.StatusCode.OK  # untouched
    assert _whoami(harness, investigator) == grpc.StatusCode.PERMISSION_DENIED  # its owner: locked
    [lock] = harness.audit("user.lock")
    assert lock.resource == "principals/local-investigator"
    harness.clock.advance(timedelta(minutes=10))  # CJIS AC-7: ten minutes
    assert _whoami(harness, investigator) == grpc.StatusCode.OK


def test_P11_a_revoked_token_counts_and_break_glass_releases_the_only_administrator(harness: Harness) -> None:
    old = harness.token("local-admin")
    harness.app.auth.revoke("local-admin")
    harness.app.auth.issue("local-admin", harness.data_dir / "tokens" / "local-admin.token")
    for _ in range(5):
        assert _whoami(harness, old) == grpc.StatusCode.UNAUTHENTICATED
    harness.service.failures.flush()
    assert _whoami(harness, harness.token("local-admin")) == grpc.StatusCode.PERMISSION_DENIED
    if harness.backend != "sqlite":
        return  # the break-glass command below opens the SQLite file of this server's data folder
    # The host operator's break-glass, without the API (and without an administrator).
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "matcher.cli",
            "break-glass",
            "unlock",
            "local-admin",
            "--reason",
            "only administrator locked out",
            "--data-dir",
            str(harness.data_dir),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert _whoami(harness, harness.token("local-admin")) == grpc.StatusCode.OK
    assert wait_until(
        lambda: any(r.actor.startswith("system:break-glass:") for r in harness.audit("user.unlock"))
    )


def test_production_start_ignores_the_old_test_hooks(tmp_path: Path) -> None:
    """MATCHER_FAULT_POINT and MATCHER_CLOCK_FILE no longer reach a production start."""
    clock = tmp_path / "clock"
    clock.write_text("2031-01-01T00:00:00+00:00")
    data = tmp_path / "data"
    port = __import__("tests.serverproc", fromlist=["free_port"]).free_port()
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        MATCHER_FAULT_POINT="case.after_close_commit",
        MATCHER_CLOCK_FILE=str(clock),
    )
    log = (tmp_path / "log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "matcher.cli",
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
            "--data-dir",
            str(data),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=REPO,
    )
    try:
        assert wait_until(lambda: (data / "client.token").exists(), timeout=60)
        with MatcherClient.connect(
            f"127.0.0.1:{port}", token_file=data / "client.token", timeout=10
        ) as client:
            assert wait_until(lambda: _serving(client), timeout=60)
            case = client.create_case("c-1", "Hooks", reason="r")
            assert case.create_time.ToDatetime().year < 2031  # the wall clock, not the file
            client.close_case("c-1", reason="charges filed")  # the fault point would kill here
            assert process.poll() is None and client.get_case("c-1").state == 2
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _serving(client: MatcherClient) -> bool:
    try:
        return client.serving()
    except Exception:
        return False


def test_no_worker_waits_for_a_stalled_body(harness: Harness) -> None:
    """More stalled authenticated calls than there are workers: the workers stay free."""
    open_case_with_subject(harness)
    workers = harness.app.settings.grpc_workers
    channel = grpc.insecure_channel(harness.target)
    stall = Stall(channel)
    busy = threading.Event()
    try:
        for principal in ("local-investigator", "local-auditor", "local-admin"):
            stall.open(SEARCH, workers, (("authorization", f"Bearer {harness.token(principal)}"),))
        time.sleep(0.3)
        busy.set()
        assert harness.client.search_faces(["c-1"], unit(3), reason="worker free").min_score > 0
    finally:
        stall.release()
        channel.close()
