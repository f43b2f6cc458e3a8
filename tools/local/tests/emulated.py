"""What the tests of the local emulator loops (tools/local) share: an emulated account and a bounded wait."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

import pytest
from moto import mock_aws

REGION: Final = "eu-west-1"
WAIT_SECONDS = 10.0


@contextmanager
def emulated_account() -> Iterator[None]:
    """moto with test credentials and nothing of the caller's AWS profile; one per module keeps the tests fast."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        with mock_aws():
            yield


def wait_until(condition: Callable[[], bool], *, seconds: float = WAIT_SECONDS) -> None:
    """Polls a condition of loops running in threads; fails after ``seconds`` instead of hanging."""
    pause = threading.Event()
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        pause.wait(0.01)
    raise AssertionError(f"not reached within {seconds} s: {condition}")


class RecordingCloudWatch:
    """PutMetricData, recorded: each datum as (namespace, name, dimensions, value, unit, epoch seconds)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def put_metric_data(self, **request: Any) -> None:
        self.requests.append(request)

    def data(self) -> list[tuple[str, str, dict[str, str], float, str | None, float]]:
        return [
            (
                request["Namespace"],
                datum["MetricName"],
                {d["Name"]: d["Value"] for d in datum["Dimensions"]},
                datum["Value"],
                datum.get("Unit"),
                datum["Timestamp"].timestamp(),
            )
            for request in self.requests
            for datum in request["MetricData"]
        ]
