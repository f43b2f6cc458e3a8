"""Two tiers agree on one format: the local event source mapping writes Lambda's on-failure documents, and the
replay tool reads them back onto the stream."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import pytest

from tools.local.event_source_mapping import LocalEventSourceMapping, MappingSettings
from tools.local.function import LocalFunction
from tools.operations.replay import main
from tools.operations.tests.stage import (
    FAILURE_ARGS,
    FAILURES,
    REGION,
    SHARD,
    Aws,
    emulated_stage,
    reading,
    stream_records,
)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    with emulated_stage(monkeypatch) as stage:
        yield stage


def test_failure_objects_the_local_event_source_mapping_writes_replay(aws: Aws) -> None:
    """The local runner's on-failure writer (tools/local) and the replay tool agree on the format."""
    aws.kinesis.create_stream(StreamName="origin", ShardCount=1)
    sent = [(reading(f"sensor-{i}", "2026-11-27T13:20:00Z"), f"sensor-{i}") for i in range(3)]
    aws.kinesis.put_records(StreamName="origin", Records=[{"Data": d, "PartitionKey": k} for d, k in sent])
    iterator = aws.kinesis.get_shard_iterator(StreamName="origin", ShardId=SHARD, ShardIteratorType="TRIM_HORIZON")
    batch = aws.kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    settings = MappingSettings(
        mapping_id="local-mapping",
        function_logical_id="Processor",
        function_name="processor",
        alias_name="live",
        stream_name="origin",
        stream_arn=f"arn:aws:kinesis:{REGION}:123456789012:stream/origin",
        batch_size=100,
        batching_window_seconds=0,
        parallelization_factor=1,
        report_batch_item_failures=True,
        bisect_on_error=True,
        max_retry_attempts=2,
        max_record_age_seconds=3600,
        starting_position="TRIM_HORIZON",
        on_failure_bucket=FAILURES,
    )
    mapping = LocalEventSourceMapping(settings, cast(LocalFunction, None))  # the function is never invoked here
    mapping._send_to_failure_destination(SHARD, batch, "RetryAttemptsExhausted", 3)

    assert main(FAILURE_ARGS) == 0
    assert stream_records(aws) == sent
