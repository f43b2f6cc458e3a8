"""Which AWS failures a retry can cure: the rule behind every "reported for retry" in the processor.

A record is reported as a batch item failure only when the write that failed is worth retrying. A failure that
belongs to one item (the service validated that item and refused it) is never retried: the record is
quarantined with the service's message instead of burning the mapping's retries.
"""

from __future__ import annotations

from enum import Enum

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError


class Fault(Enum):
    TRANSIENT = "transient"  # throttling, 5xx, timeouts, dropped connections: a retry can succeed
    ITEM = "item"  # the request was refused for what one item holds: the same item fails again
    SYSTEMIC = "systemic"  # permissions, a missing resource, a disabled key: no item's fault, a retry won't help


TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalServerError",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "KMSThrottlingException",
    }
)
ITEM_CODES = frozenset({"ValidationException", "SerializationException"})

AWS_FAILURES = (ClientError, BotoCoreError)  # what an AWS call may raise; anything else is a bug of ours


def fault_of(error: ClientError | BotoCoreError) -> Fault:
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in TRANSIENT_CODES or status >= 500:
            return Fault.TRANSIENT
        return Fault.ITEM if code in ITEM_CODES else Fault.SYSTEMIC
    # The SDK refused the request before sending it: what the request carries is at fault, not the service.
    return Fault.ITEM if isinstance(error, ParamValidationError) else Fault.TRANSIENT


def describe(error: ClientError | BotoCoreError) -> str:
    """The error's type, code and message, for a quarantine detail or a log line."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{type(error).__name__} {details.get('Code', '')}: {details.get('Message', '')}"[:500]
    return f"{type(error).__name__}: {error}"[:500]
