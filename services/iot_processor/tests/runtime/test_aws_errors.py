"""Which AWS failures are worth a retry, and how an error is described in a quarantine detail."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ParamValidationError

from services.iot_processor.runtime.aws_errors import Fault, describe, fault_of
from services.iot_processor.tests.harness import client_error


@pytest.mark.parametrize(
    ("code", "status", "fault"),
    [
        ("ProvisionedThroughputExceededException", 400, Fault.TRANSIENT),
        ("ThrottlingException", 400, Fault.TRANSIENT),
        ("SlowDown", 503, Fault.TRANSIENT),
        ("KMSThrottlingException", 400, Fault.TRANSIENT),
        ("RequestLimitExceeded", 400, Fault.TRANSIENT),
        ("AnythingElse", 500, Fault.TRANSIENT),  # every server error
        ("AnythingElse", 499, Fault.SYSTEMIC),
        ("ValidationException", 400, Fault.ITEM),
        ("SerializationException", 400, Fault.ITEM),
        ("AccessDeniedException", 400, Fault.SYSTEMIC),
        ("ResourceNotFoundException", 400, Fault.SYSTEMIC),
        ("KMSDisabledException", 400, Fault.SYSTEMIC),
    ],
)
def test_fault_of_a_service_error(code: str, status: int, fault: Fault) -> None:
    assert fault_of(client_error(code, "AnyOperation", status=status)) is fault


def test_an_error_without_code_or_status_is_systemic() -> None:
    assert fault_of(ClientError({}, "AnyOperation")) is Fault.SYSTEMIC


def test_fault_of_an_sdk_error() -> None:
    assert fault_of(ParamValidationError(report="Invalid length")) is Fault.ITEM
    assert fault_of(EndpointConnectionError(endpoint_url="https://x")) is Fault.TRANSIENT
    assert fault_of(ConnectTimeoutError(endpoint_url="https://x")) is Fault.TRANSIENT


def test_describe_leaves_out_what_the_error_does_not_say() -> None:
    assert describe(ClientError({}, "AnyOperation")) == "ClientError : "


def test_describe_names_type_code_and_message_in_at_most_500_characters() -> None:
    assert describe(client_error("ValidationException", "PutItem")) == (
        "ClientError ValidationException: ValidationException (injected)"
    )
    assert describe(EndpointConnectionError(endpoint_url="https://x")) == (
        'EndpointConnectionError: Could not connect to the endpoint URL: "https://x"'
    )
    long = client_error("ValidationException" + "x" * 600, "PutItem")
    assert len(describe(long)) == 500
    assert len(describe(ParamValidationError(report="y" * 600))) == 500
