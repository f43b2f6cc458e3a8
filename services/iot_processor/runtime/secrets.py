"""A JSON secret from Secrets Manager, read through the SDK client and kept for a few minutes.

Powertools' parameters utility did this before, at a price paid on the first alert of every execution environment:
importing it imports boto3, and its provider opens a second botocore session (its own model loads): CPU out of
all proportion to one read every five minutes (docs/performance.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager.client import SecretsManagerClient


class SecretFormatError(ValueError):
    """The secret's value is not a JSON object (the message names the secret, never its value)."""


class CachedJsonSecret:
    """Calling it returns the secret's JSON object, read again once ``max_age_seconds`` have passed since the last
    read. A read that fails, or a value that is not a JSON object, raises and caches nothing."""

    def __init__(
        self,
        *,
        client: SecretsManagerClient,
        secret_id: str,
        max_age_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._secret_id = secret_id
        self._max_age = max_age_seconds
        self._clock = clock
        self._value: dict[str, Any] | None = None
        self._read_at = 0.0

    def __call__(self) -> dict[str, Any]:
        now = self._clock()
        if self._value is None or now - self._read_at >= self._max_age:
            self._value = self._read()
            self._read_at = now
        return dict(self._value)  # a copy: a caller's change cannot leak into the next call

    def _read(self) -> dict[str, Any]:
        text = self._client.get_secret_value(SecretId=self._secret_id).get("SecretString")
        if text is None:
            raise SecretFormatError(f"secret {self._secret_id} holds binary data, not a JSON object")
        try:
            value = json.loads(text)
        except ValueError:
            raise SecretFormatError(f"secret {self._secret_id} is not JSON") from None  # the value stays unlogged
        if not isinstance(value, dict):
            raise SecretFormatError(f"secret {self._secret_id} is JSON but not an object")
        return value
