"""Lambda entry point of the processor: wiring and decorators only; the logic lives in batch.py."""

from __future__ import annotations

import gc
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from services.iot_processor.runtime.alerts import AlertTopic, Webhook
from services.iot_processor.runtime.batch import ReadingBatchProcessor, ReadingProcessor
from services.iot_processor.runtime.clients import AwsClients
from services.iot_processor.runtime.metrics import processor_metrics
from services.iot_processor.runtime.objects import ProcessedBucket
from services.iot_processor.runtime.secrets import CachedJsonSecret
from services.iot_processor.runtime.settings import Settings
from services.iot_processor.runtime.table import ReadingsTable

SECRET_CACHE_SECONDS = 300

logger = Logger()
metrics = processor_metrics()


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
    processor = ReadingProcessor(
        settings=settings,
        table=ReadingsTable(client=aws.dynamodb, table_name=settings.table_name),
        bucket=ProcessedBucket(client=aws.s3, bucket=settings.processed_bucket),
        alerts=AlertTopic(client=aws.sns, topic_arn=settings.alert_topic_arn),
        webhook=webhook,
        metrics=metrics,
    )
    if clients is None:
        # What a cold start built (the SDK's clients and models, Powertools) lives as long as the execution
        # environment: the collector need never scan it again, so each batch's collections stay cheap
        # (docs/performance.md). Tests inject their clients and keep their garbage collectable.
        gc.freeze()
    return processor


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    readings = reading_processor()
    batch = ReadingBatchProcessor(settle=readings.settle)
    response = process_partial_response(event=event, record_handler=readings.judge, processor=batch, context=context)
    logger.info("batch settled", extra=batch.outcome.summary())
    return response
