"""Anomaly alerts: SNS PublishBatch with filterable attributes, and an optional best-effort webhook."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from services.iot_processor.runtime.aws_errors import AWS_FAILURES, describe
from services.iot_processor.runtime.table import ReadingKey, StoredReading, WriteOutcome, reading_key

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient
    from mypy_boto3_sns.type_defs import PublishBatchResponseTypeDef

PUBLISH_BATCH_LIMIT = 10
logger = Logger(child=True)


def alert_message(stored: StoredReading) -> dict[str, Any]:
    reading = stored.reading
    return {
        "reading_id": reading.reading_id,
        "sensor_id": reading.sensor_id,
        "sensor_type": reading.sensor_type,
        "value": str(reading.value),
        "unit": reading.unit,
        "timestamp": reading.event_time,
        "severity": str(stored.severity),
        "site": reading.site,
    }


class AlertTopic:
    """Publishes one SNS message per distinct anomaly, ten per call.

    Every message carries the reading's id as the ``reading_id`` attribute (and ``sensor_id``): a retried batch
    re-sends its alerts with the same ids, so subscribers deduplicate on (sensor_id, reading_id).
    """

    def __init__(self, *, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, anomalies: Sequence[StoredReading]) -> WriteOutcome:
        """``failed``: alerts worth retrying; ``rejected``: alerts SNS refused for their content (SenderFault)."""
        distinct = {reading_key(stored.reading): stored for stored in anomalies}
        entries = list(distinct.items())
        outcome = WriteOutcome()
        for start in range(0, len(entries), PUBLISH_BATCH_LIMIT):
            chunk = entries[start : start + PUBLISH_BATCH_LIMIT]
            try:
                response = self._publish(chunk)
            except AWS_FAILURES as error:
                logger.exception("alert publish failed", extra={"alerts": len(chunk), "error": describe(error)})
                outcome |= WriteOutcome(failed=frozenset(key for key, _ in chunk))
                continue
            failed_entries = response.get("Failed", [])
            outcome |= WriteOutcome(
                failed=frozenset(chunk[int(entry["Id"])][0] for entry in failed_entries if not entry["SenderFault"]),
                rejected={
                    chunk[int(entry["Id"])][0]: f"{entry['Code']}: {entry.get('Message', '')}"
                    for entry in failed_entries
                    if entry["SenderFault"]
                },
            )
        if outcome.rejected:
            logger.error("alerts refused by the topic", extra={"refused": [str(key) for key in outcome.rejected]})
        return outcome

    def _publish(self, chunk: Sequence[tuple[ReadingKey, StoredReading]]) -> PublishBatchResponseTypeDef:
        return self._client.publish_batch(
            TopicArn=self._topic_arn,
            PublishBatchRequestEntries=[
                {
                    "Id": str(index),
                    "Subject": f"{stored.severity} {stored.reading.sensor_type} anomaly on {stored.reading.sensor_id}"[
                        :100
                    ],
                    "Message": json.dumps(alert_message(stored)),
                    "MessageAttributes": {
                        "sensor_type": {"DataType": "String", "StringValue": stored.reading.sensor_type},
                        "severity": {"DataType": "String", "StringValue": str(stored.severity)},
                        "sensor_id": {"DataType": "String", "StringValue": stored.reading.sensor_id},
                        "reading_id": {"DataType": "String", "StringValue": stored.reading.reading_id},
                    },
                }
                for index, (_, stored) in enumerate(chunk)
            ],
        )


class Webhook:
    """POSTs alerts to a URL kept in Secrets Manager ({"url": "https://...", "token": "..."}).

    Best effort by design: a slow or failing webhook is logged and counted, never fails a reading.
    """

    def __init__(
        self,
        *,
        secret_loader: Callable[[], dict[str, Any]],
        timeout_seconds: float = 2.0,
        opener: Callable[..., Any] = urllib.request.urlopen,
    ) -> None:
        self._load_secret = secret_loader
        self._timeout = timeout_seconds
        self._open = opener

    def notify(self, anomalies: Sequence[StoredReading]) -> bool:
        """True when the webhook accepted the alerts or none is configured."""
        if not anomalies:
            return True
        try:
            secret = self._load_secret()
            url = str(secret.get("url") or "")
            if not url:
                return True
            if not url.startswith("https://"):
                logger.warning("alert webhook ignored: the URL must use https")
                return False
            request = urllib.request.Request(  # noqa: S310 - scheme checked above
                url,
                data=json.dumps({"alerts": [alert_message(stored) for stored in anomalies]}).encode(),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {secret.get('token', '')}"},
                method="POST",
            )
            with self._open(request, timeout=self._timeout) as response:
                return 200 <= int(response.status) < 300
        except Exception:
            logger.exception("alert webhook failed")
            return False
