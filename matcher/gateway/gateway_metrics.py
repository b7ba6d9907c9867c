"""Prometheus metrics of the camera gateway (``--metrics-listen``): counts per camera, never a
face, a plate or a person. The camera id is the only label."""

from __future__ import annotations

from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from matcher.gateway.camera_gateway import Gateway


class GatewayCollector(Collector):
    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        per_camera = {
            "frames": "Frames sampled from the source",
            "analysed": "Frames analysed",
            "faces": "Usable faces found",
            "appearances": "Appearances sent as sightings",
            "plates": "Distinct plate reads sent",
            "uncertain": "Plate reads kept back as too uncertain to check",
            "reconnects": "Reconnections to the source",
        }
        for name, help_text in per_camera.items():
            family = CounterMetricFamily(f"matcher_gateway_{name}", help_text, labels=["camera"])
            for camera in self._gateway.cameras:
                family.add_metric([camera.source.camera], getattr(camera.stats, name))
            yield family
        dropped = CounterMetricFamily(
            "matcher_gateway_dropped_frames", "Frames dropped because analysis was behind", labels=["camera"]
        )
        for camera in self._gateway.cameras:
            dropped.add_metric([camera.source.camera], camera.frames.dropped)
        yield dropped
        sent, checks = self._gateway.sender.counts, self._gateway.checks.counts
        for name, help_text, number in (
            ("sightings_confirmed", "Sightings the service confirmed", sent.confirmed),
            ("sightings_dropped", "Sightings dropped because the service was behind or away", sent.dropped),
            ("stream_failures", "Sighting streams that failed (and were resumed)", sent.failures),
            ("plate_checks", "Plate reads checked", checks.checked),
            ("plate_hits", "Plate reads that hit a watchlist", checks.hits),
            ("plate_dropped", "Plate reads dropped because the service was behind or away", checks.dropped),
        ):
            yield CounterMetricFamily(f"matcher_gateway_{name}", help_text, value=number)


def serve_metrics(gateway: Gateway, address: str) -> WSGIServer:
    """Serves ``/metrics`` at ``HOST:PORT`` (loopback when HOST is empty) until ``shutdown()``."""
    host, _, port = address.rpartition(":")
    registry = CollectorRegistry(auto_describe=True)
    registry.register(GatewayCollector(gateway))
    server, _thread = start_http_server(int(port), addr=host or "127.0.0.1", registry=registry)
    return server
