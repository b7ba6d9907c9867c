"""RegistryService: cameras and zones (administrators) and registered-individual orders (P5)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from lifecycle import order_models as o
from lifecycle.errors import Kind, PolicyError
from matcher.app import App
from matcher.transport import convert, names
from matcher.transport.calls import rpc
from matcher.transport.face_service import probes_of
from matcher.v1 import faces_pb2, registry_pb2


def camera_id(name: str) -> str:
    return names.parts(name, ("cameras",), "camera")[0]


def zone_id(name: str) -> str:
    return names.parts(name, ("zones",), "zone")[0]


def order_id(name: str) -> str:
    return names.parts(name, ("orders",), "order")[0]


class RegistryService:
    def __init__(self, app: App) -> None:
        self.app = app

    @property
    def _registry(self) -> Any:
        return self.app.individuals.registry

    def _order(self, row: o.Order) -> registry_pb2.RegistrationOrder:
        with self.app.db.reading() as session:
            zones = self._registry.order_zones(session, row.id)
            templates = self._registry.template_count(session, row.id)
        return registry_pb2.RegistrationOrder(
            name=f"orders/{row.id}",
            label=row.label,
            legal_reference=row.legal_reference,
            zones=[f"zones/{z}" for z in zones],
            start_time=convert.timestamp(row.start_at),
            end_time=convert.timestamp(row.end_at),
            state=row.state.upper(),
            face_template_count=templates,
            create_time=convert.timestamp(row.created_at),
        )

    @rpc("camera.create", lambda r: f"cameras/{r.camera_id}", audits_itself=True)
    def CreateCamera(self, request: registry_pb2.CreateCameraRequest, actor: str) -> registry_pb2.Camera:
        row = self._registry.create_camera(
            actor, request.camera_id, request.camera.description, request.reason
        )
        return registry_pb2.Camera(
            name=f"cameras/{row.id}",
            description=row.description,
            create_time=convert.timestamp(row.created_at),
        )

    @rpc("camera.list", lambda r: "cameras", count=lambda resp: len(resp.cameras))
    def ListCameras(
        self, request: registry_pb2.ListCamerasRequest, actor: str
    ) -> registry_pb2.ListCamerasResponse:
        return registry_pb2.ListCamerasResponse(
            cameras=[
                registry_pb2.Camera(
                    name=f"cameras/{c.id}",
                    description=c.description,
                    create_time=convert.timestamp(c.created_at),
                )
                for c in self._registry.cameras()
            ]
        )

    def _zone(self, zone: str) -> registry_pb2.Zone:
        for row, cameras in self._registry.zones():
            if row.id == zone:
                return registry_pb2.Zone(
                    name=f"zones/{row.id}",
                    description=row.description,
                    cameras=[f"cameras/{c}" for c in cameras],
                )
        raise PolicyError(Kind.NOT_FOUND, "ZONE_NOT_FOUND", f"zone {zone!r} does not exist")

    @rpc("zone.create", lambda r: f"zones/{r.zone_id}", audits_itself=True)
    def CreateZone(self, request: registry_pb2.CreateZoneRequest, actor: str) -> registry_pb2.Zone:
        cameras = [camera_id(c) for c in request.zone.cameras]
        self._registry.create_zone(actor, request.zone_id, request.zone.description, cameras, request.reason)
        return self._zone(request.zone_id)

    @rpc("zone.update", lambda r: r.name, audits_itself=True)
    def UpdateZoneCameras(
        self, request: registry_pb2.UpdateZoneCamerasRequest, actor: str
    ) -> registry_pb2.Zone:
        zone = zone_id(request.name)
        self._registry.set_zone_cameras(actor, zone, [camera_id(c) for c in request.cameras], request.reason)
        return self._zone(zone)

    @rpc("zone.list", lambda r: "zones", count=lambda resp: len(resp.zones))
    def ListZones(self, request: registry_pb2.ListZonesRequest, actor: str) -> registry_pb2.ListZonesResponse:
        return registry_pb2.ListZonesResponse(
            zones=[
                registry_pb2.Zone(
                    name=f"zones/{z.id}", description=z.description, cameras=[f"cameras/{c}" for c in cams]
                )
                for z, cams in self._registry.zones()
            ]
        )

    @rpc("operator.zones", lambda r: r.principal, audits_itself=True)
    def SetOperatorZones(
        self, request: registry_pb2.SetOperatorZonesRequest, actor: str
    ) -> registry_pb2.SetOperatorZonesResponse:
        principal = names.parts(request.principal, ("principals",), "principal")[0]
        self._registry.set_operator_zones(
            actor, principal, [zone_id(z) for z in request.zones], request.reason
        )
        return registry_pb2.SetOperatorZonesResponse()

    @rpc("order.create", lambda r: f"orders/{r.order_id}", audits_itself=True)
    def CreateOrder(
        self, request: registry_pb2.CreateOrderRequest, actor: str
    ) -> registry_pb2.RegistrationOrder:
        body = request.order
        if not body.HasField("start_time") or not body.HasField("end_time"):
            raise PolicyError(
                Kind.INVALID_ARGUMENT, "ORDER_INVALID", "an order needs its period: start and end (P5)"
            )
        row = self._registry.create_order(
            actor,
            request.order_id,
            body.label,
            body.legal_reference,
            [zone_id(z) for z in body.zones],
            body.start_time.ToDatetime(tzinfo=UTC),
            body.end_time.ToDatetime(tzinfo=UTC),
            request.reason,
        )
        return self._order(row)

    @rpc("order.get", lambda r: r.name)
    def GetOrder(self, request: registry_pb2.GetOrderRequest, actor: str) -> registry_pb2.RegistrationOrder:
        with self.app.db.reading() as session:
            row = self._registry.order(session, order_id(request.name))
        return self._order(row)

    @rpc("order.list", lambda r: "orders", count=lambda resp: len(resp.orders))
    def ListOrders(
        self, request: registry_pb2.ListOrdersRequest, actor: str
    ) -> registry_pb2.ListOrdersResponse:
        return registry_pb2.ListOrdersResponse(orders=[self._order(row) for row in self._registry.orders()])

    @rpc("order.amend", lambda r: r.name, audits_itself=True)
    def AmendOrder(
        self, request: registry_pb2.AmendOrderRequest, actor: str
    ) -> registry_pb2.RegistrationOrder:
        row = self._registry.amend_order(
            actor,
            order_id(request.name),
            request.legal_reference,
            [zone_id(z) for z in request.zones] or None,
            request.end_time.ToDatetime(tzinfo=UTC) if request.HasField("end_time") else None,
            request.reason,
        )
        return self._order(row)

    @rpc("order.revoke", lambda r: r.name, audits_itself=True)
    def RevokeOrder(
        self, request: registry_pb2.RevokeOrderRequest, actor: str
    ) -> registry_pb2.RegistrationOrder:
        row = self._registry.revoke_order(actor, order_id(request.name), request.reason)
        return self._order(row)

    @rpc("order.enroll", lambda r: r.parent, audits_itself=True)
    def EnrollOrderFace(
        self, request: registry_pb2.EnrollOrderFaceRequest, actor: str
    ) -> faces_pb2.FaceTemplate:
        order = order_id(request.parent)
        [probe] = probes_of(self.app, request.face, "enrol", "the face")
        row = self.app.individuals.enroll(actor, order, probe.vector, probe.model, request.reason)
        template = faces_pb2.FaceTemplate(
            name=f"orders/{order}/faceTemplates/{row.id}",
            model=row.model,
            create_time=convert.timestamp(row.created_at),
        )
        if probe.box is not None:
            template.face_box.CopyFrom(probe.box)
        return template
