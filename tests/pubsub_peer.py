"""A real gRPC Pub/Sub peer for the tests: the Publisher service's ``Publish`` on 127.0.0.1.

Google's Pub/Sub emulator ships only with the gcloud CLI, so the tests serve the one call a
publisher makes (``google.pubsub.v1.Publisher/Publish``) themselves, on a real
``grpc.server``, and point the real ``google-cloud-pubsub`` client at it through
``PUBSUB_EMULATOR_HOST`` (insecure gRPC, no credentials), as they would the emulator. The
requests and answers are (de)serialised by the library's own message classes
(``google.pubsub_v1.types.PublishRequest`` / ``PublishResponse``), so what the peer records
is what went over the wire. It can be made to fail as Pub/Sub does: a topic that does not
exist (``NOT_FOUND``), or a service that is briefly unavailable (``UNAVAILABLE``).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from google.pubsub_v1.types import PublishRequest, PublishResponse

SERVICE = "google.pubsub.v1.Publisher"


@dataclass(frozen=True)
class Published:
    """One message as the peer received it."""

    topic: str
    data: bytes
    attributes: dict[str, str]
    message_id: str


class PubsubPeer:
    """A Pub/Sub Publisher service on 127.0.0.1 (``port=0``: a free port).

    Attributes:
        published: every message accepted, in order.
        calls: every ``Publish`` call's topic, accepted or not.
        missing: topics answered ``NOT_FOUND`` ("Resource not found"), as Pub/Sub answers a
            topic that does not exist.
        unavailable: how many of the next calls are answered ``UNAVAILABLE``.
    """

    def __init__(self, port: int = 0) -> None:
        self.published: list[Published] = []
        self.calls: list[str] = []
        self.missing: set[str] = set()
        self.unavailable = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        handler = grpc.unary_unary_rpc_method_handler(
            self._publish,
            request_deserializer=PublishRequest.deserialize,
            response_serializer=PublishResponse.serialize,
        )
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, {"Publish": handler}),)
        )
        self.port = self._server.add_insecure_port(f"127.0.0.1:{port}")
        self.host = f"127.0.0.1:{self.port}"
        self._server.start()

    def _publish(self, request: PublishRequest, context: grpc.ServicerContext) -> PublishResponse:
        with self._lock:
            self.calls.append(request.topic)
            if self.unavailable > 0:
                self.unavailable -= 1
                context.abort(grpc.StatusCode.UNAVAILABLE, "The service is currently unavailable.")
            if request.topic in self.missing:
                context.abort(grpc.StatusCode.NOT_FOUND, f"Resource not found ({request.topic}).")
            ids = []
            for message in request.messages:
                message_id = str(next(self._ids))
                ids.append(message_id)
                self.published.append(
                    Published(
                        request.topic, bytes(message.data), dict(message.attributes), message_id
                    )
                )
            return PublishResponse(message_ids=ids)

    def reset(self) -> None:
        """Forget what was received and heal every failure."""
        with self._lock:
            self.published.clear()
            self.calls.clear()
            self.missing.clear()
            self.unavailable = 0

    def stop(self) -> None:
        self._server.stop(grace=None).wait()

    def __enter__(self) -> PubsubPeer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serving(port: int = 0) -> Iterator[PubsubPeer]:
    """A peer for the length of a ``yield`` fixture."""
    with PubsubPeer(port) as peer:
        yield peer
