"""What the archive service promises everyone else: where the raw archive puts every record, and its shared values.

No CDK and no AWS clients here, so anything may import it. Nothing outside services/iot_archive imports any other
module of the service.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

SERVICE = "archive"
OWNER_TEAM = "iot-data"


class SharedKey(StrEnum):
    """Values the archive stack publishes for the other stacks of its stage (SSM, see ADR 0002)."""

    DELIVERY_STREAM_NAME = "delivery-stream-name"
    RAW_BUCKET_NAME = "raw-bucket-name"


class Output(StrEnum):
    """The archive stack's outputs (the pipeline's steps read them as ``ARCHIVE_<OUTPUT>``, in capitals)."""

    DELIVERY_STREAM_NAME = "DeliveryStreamName"
    RAW_BUCKET_NAME = "RawBucketName"
    GLUE_DATABASE = "GlueDatabase"
    ATHENA_WORKGROUP = "AthenaWorkgroup"


# Each shared value is also an output of the stack.
SHARED_OUTPUTS = {
    SharedKey.DELIVERY_STREAM_NAME: Output.DELIVERY_STREAM_NAME,
    SharedKey.RAW_BUCKET_NAME: Output.RAW_BUCKET_NAME,
}


READINGS_PREFIX = "readings/"
ERROR_PREFIX = "errors/"
PARTITION_KEYS = ("year", "month", "day", "hour")
# Event-time partitions in UTC from the reading's own timestamp: epoch milliseconds, or ISO-8601 with "Z" or an
# offset (the offset is applied, so 15:20+01:00 lands in hour=14). Anything else (not JSON, no or another kind of
# timestamp) produces no partition, so Firehose writes it under the error prefix: archived all the same.
PARTITION_QUERY = (
    '(.timestamp | if type == "number" then . / 1000 else '
    '(capture("^(?<wall>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(?:[.][0-9]+)?(?<zone>Z|[+-][0-9]{2}:[0-9]{2})$")'
    ' | (.wall + "Z" | fromdateiso8601) - (if .zone == "Z" then 0 else (if .zone[0:1] == "-" then -1 else 1 end)'
    " * ((.zone[1:3] | tonumber) * 3600 + (.zone[4:6] | tonumber) * 60) end)) end) as $t"
    ' | {year: ($t | strftime("%Y")), month: ($t | strftime("%m")), day: ($t | strftime("%d")),'
    ' hour: ($t | strftime("%H"))}'
)
# Firehose's prefixes: the partitioned readings, and the records no partition could be computed for.
PARTITIONED_PREFIX = (
    READINGS_PREFIX + "/".join(f"{key}=!{{partitionKeyFromQuery:{key}}}" for key in PARTITION_KEYS) + "/"
)
ERROR_OUTPUT_PREFIX = ERROR_PREFIX + "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"


def partition_prefix(hour: datetime) -> str:
    """Where Firehose writes the readings whose event time falls in ``hour`` (UTC)."""
    return f"{READINGS_PREFIX}year={hour:%Y}/month={hour:%m}/day={hour:%d}/hour={hour:%H}/"
