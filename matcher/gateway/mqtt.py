"""The MQTT side of the Frigate bridge (paho-mqtt): connect, subscribe, hand messages over.

The first connection is made before anything else so that a wrong address or a broker that is
down is a clear error at start; afterwards paho reconnects by itself (1-30 s back-off) and the
subscriptions are renewed on every connection.
"""

from __future__ import annotations

import logging
import ssl
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from matcher.gateway.frigate import PARSERS, FrigateBridge

log = logging.getLogger(__name__)


class BrokerUnreachable(Exception):
    """The MQTT broker could not be reached or refused the bridge."""


@dataclass(frozen=True)
class BrokerSettings:
    host: str
    port: int
    topic_prefix: str = "frigate"
    username: str = ""
    password: str = ""
    tls_ca: Path | None = None
    keepalive: int = 30


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``HOST`` alone means port 1883); ValueError says what is wrong."""
    host, sep, port = address.rpartition(":")
    if not sep:
        host, port = address, "1883"
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--mqtt {address!r}: write HOST:PORT, e.g. 127.0.0.1:1883")
    return host, int(port)


class FrigateSubscriber:
    """Subscribes to Frigate's plate topics and feeds their messages to the bridge."""

    def __init__(self, settings: BrokerSettings, bridge: FrigateBridge) -> None:
        self._settings = settings
        self._bridge = bridge
        prefix = settings.topic_prefix.rstrip("/")
        self._topics = {f"{prefix}/{kind}": kind for kind in PARSERS}
        self.subscribed = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"matcher-bridge-{uuid.uuid4().hex[:12]}"
        )
        if settings.username:
            self._client.username_pw_set(settings.username, settings.password or None)
        if settings.tls_ca is not None:
            self._client.tls_set(ca_certs=str(settings.tls_ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self._client.reconnect_delay_set(1, 30)
        self._client.on_connect = self._connected
        self._client.on_disconnect = self._disconnected
        self._client.on_subscribe = self._acknowledged
        self._client.on_message = self._message

    def start(self) -> None:
        """Connects (raising BrokerUnreachable when that fails) and starts paho's network thread."""
        where = f"{self._settings.host}:{self._settings.port}"
        try:
            self._client.connect(self._settings.host, self._settings.port, self._settings.keepalive)
        except (OSError, ValueError) as error:
            raise BrokerUnreachable(f"the MQTT broker at {where} is not answering: {error}") from None
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _connected(self, client: mqtt.Client, _data: Any, _flags: Any, code: ReasonCode, _props: Any) -> None:
        if code.is_failure:
            log.error("the MQTT broker refused the bridge: %s (check --mqtt-username and password)", code)
            return
        log.info("connected to the MQTT broker; subscribing to %s", ", ".join(sorted(self._topics)))
        client.subscribe([(topic, 1) for topic in self._topics])

    def _disconnected(self, _client: mqtt.Client, _data: Any, _flags: Any, code: ReasonCode, _p: Any) -> None:
        self.subscribed.clear()
        if code.value != 0:
            log.warning("lost the MQTT broker (%s); reconnecting", code)

    def _acknowledged(
        self, _client: mqtt.Client, _data: Any, _mid: int, codes: list[ReasonCode], _p: Any
    ) -> None:
        if any(code.is_failure for code in codes):
            log.error("the MQTT broker refused a subscription: %s", ", ".join(str(c) for c in codes))
            return
        self.subscribed.set()

    def _message(self, _client: mqtt.Client, _data: Any, message: mqtt.MQTTMessage) -> None:
        kind = self._topics.get(message.topic)
        if kind is not None:
            self._bridge.receive(kind, bytes(message.payload))
