"""Every method of the contract is admitted by construction (issue 11).

The dispatcher builds the handlers from the contract's descriptors, not from the servicers, so a
method whose implementation forgot its declaration cannot be served unadmitted: the server
refuses to start and names it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from matcher.server import SERVICES
from matcher.transport.calls import spec_of
from matcher.transport.dispatch import Dispatcher
from tests.conftest import Harness


def test_every_method_of_every_service_has_a_declaration(harness: Harness) -> None:
    for module, name, servicer in SERVICES:
        instance = servicer(harness.app)
        for method in module.DESCRIPTOR.services_by_name[name].methods:
            spec = spec_of(getattr(instance, method.name, None))
            assert spec is not None, f"{name}.{method.name} has no @rpc declaration"
            assert (spec.shape.value != "unary") == (method.client_streaming or method.server_streaming)


def test_a_method_without_its_declaration_stops_the_server(harness: Harness) -> None:
    module, name, servicer = SERVICES[0]

    class Forgetful(servicer):  # type: ignore[misc,valid-type]
        def GetCase(self, request: object, actor: str) -> object:  # no @rpc: not admitted
            raise AssertionError("never called")

    with ThreadPoolExecutor(1) as pool:
        dispatcher = Dispatcher(harness.app, pool)
        try:
            with pytest.raises(RuntimeError, match=r"CaseService\.GetCase"):
                dispatcher.handlers([(module.DESCRIPTOR.services_by_name[name], Forgetful(harness.app))])
        finally:
            dispatcher.failures.stop()
