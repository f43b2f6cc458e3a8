"""Lambda entry point of the processor: wiring and decorators only; the logic lives in batch.py."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from services.iot_processor.runtime.alerts import AlertTopic, Webhook
from services.iot_processor.runtime.batch import ReadingProcessor
from services.iot_processor.runtime.clients import AwsClients
from services.iot_processor.runtime.objects import ProcessedBucket
from services.iot_processor.runtime.secrets import CachedJsonSecret
from services.iot_processor.runtime.settings import Settings
from services.iot_processor.runtime.table import ReadingsTable

SECRET_CACHE_SECONDS = 300

logger = Logger()
metrics = Metrics()
# A batch whose every record failed is a transient outage (throttling, an S3 or SNS error), not a broken function:
# report every record for retry instead of raising, so the Errors alarm keeps meaning "the code crashed", and
# ReadingsFailed plus the iterator age show the outage (docs/runbooks.md, processor-readings-failed).
batch_processor = BatchProcessor(
    event_type=EventType.KinesisDataStreams, model=None, raise_on_entire_batch_failure=False
)


@cache
def reading_processor(clients: AwsClients | None = None) -> ReadingProcessor:
    """Built on the first invocation (not at import), reused while the execution environment lives."""
    settings = Settings.from_environment()
    aws = clients or AwsClients()
    webhook = None
    if settings.webhook_secret_arn:
        webhook = Webhook(
            secret_loader=CachedJsonSecret(
                client=aws.secretsmanager,
                secret_id=settings.webhook_secret_arn,
                max_age_seconds=SECRET_CACHE_SECONDS,
            )
        )
    return ReadingProcessor(
        settings=settings,
        table=ReadingsTable(client=aws.dynamodb, table_name=settings.table_name),
        bucket=ProcessedBucket(client=aws.s3, bucket=settings.processed_bucket),
        alerts=AlertTopic(client=aws.sns, topic_arn=settings.alert_topic_arn),
        webhook=webhook,
        metrics=metrics,
    )


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    outcome = reading_processor().process([KinesisStreamRecord(record) for record in event["Records"]])
    logger.info("batch settled", extra=outcome.summary())
    return process_partial_response(
        event=event, record_handler=outcome.confirm, processor=batch_processor, context=context
    )
