"""AWS answered in process with a canned success, after the SDK has done all its own work.

A handler registered on botocore's ``before-send`` event returns the response, so parameter validation,
serialization, signing and response parsing all still run: what is left out is only the network and the
service. Used by the processor benchmark to measure CPU per reading without moto's own cost.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.awsrequest import AWSResponse, HTTPHeaders


class _Body:
    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._content


def _canned(protocol: str, operation: str) -> tuple[dict[str, str], bytes]:
    if protocol == "json":  # DynamoDB: what it answers when every item of a BatchWriteItem was written
        body = b'{"UnprocessedItems": {}}' if operation == "BatchWriteItem" else b"{}"
        return {"Content-Type": "application/x-amz-json-1.0"}, body
    if protocol == "query":  # SNS: an empty result parses as success (no Failed entries)
        return {"Content-Type": "text/xml"}, f"<{operation}Response><{operation}Result/></{operation}Response>".encode()
    return {"ETag": '"stubbed"'}, b""  # rest-xml (S3 PutObject)


@dataclass
class SdkTime:
    """CPU seconds inside the SDK: ``sdk`` from parameter validation to the send, ``io`` the canned response."""

    sdk: float = 0.0
    io: float = 0.0


def stub_session(session: botocore.session.Session) -> SdkTime:
    """Answer every call of every client ``session`` creates (before or after) with a canned 200.

    The response is shaped for the service's protocol and given after validation, serialization and signing.
    Returns the running totals of CPU time spent in the SDK and in the stubbed I/O (response included).
    """
    models = botocore.session.get_session()
    protocols: dict[str, str] = {}
    spent = SdkTime()
    started = [0.0, 0.0]

    def call_started(**_: Any) -> None:
        started[0] = time.process_time()

    def sending(**_: Any) -> None:
        started[1] = time.process_time()
        spent.sdk += started[1] - started[0]

    def respond(request: Any, event_name: str, **_: Any) -> AWSResponse:
        service, operation = event_name.split(".")[1:]
        if service not in protocols:
            protocols[service] = str(models.get_service_model(service).metadata["protocol"])
        headers, body = _canned(protocols[service], operation)
        return AWSResponse(request.url, 200, HTTPHeaders.from_dict(headers), _Body(body))

    def call_ended(**_: Any) -> None:
        spent.io += time.process_time() - started[1]

    events = session.get_component("event_emitter")
    events.register_first("before-parameter-build", call_started)
    events.register_first("before-send", respond)  # a response ends the send
    events.register_first("before-send", sending)  # first of all: it only notes the time
    events.register("after-call", call_ended)
    return spent
