"""A tool's side of the local platform a ``tools.local.run --serve`` keeps up: where it is, and how to ask it to settle.

The run itself is a stand-in here (served_platform.py); tests/test_restore_drill.py drives the real one.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tools.common.local_service import LocalRun, LocalRunError, LocalService

STAND_IN = "tools.common.tests.served_platform"


def test_a_service_points_boto3_at_the_emulator_and_each_copy(tmp_path: Path) -> None:
    service = LocalService(
        endpoint="http://127.0.0.1:5000",
        endpoints={"dynamodb": "http://127.0.0.1:5001", "s3": "http://127.0.0.1:5002"},
        region="eu-west-1",
        outputs={"ingest": {"TableName": "readings"}},
    )
    assert service.environment() == {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",  # pragma: allowlist secret (what moto accepts)
        "AWS_SESSION_TOKEN": "local",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:5001",
        "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:5002",
    }
    service.write(tmp_path / "service.json")
    assert LocalService.read(tmp_path / "service.json") == service
    assert [path.name for path in tmp_path.iterdir()] == ["service.json"]  # no staging file left


def test_a_run_serves_echoes_its_report_settles_and_stops() -> None:
    echo = io.StringIO()
    run = LocalRun(["fine"], echo=echo, module=STAND_IN)
    assert run.service.outputs == {"ingest": {"TableName": "t"}}
    assert run.settle({"shard-0": 12, "shard-1": 7}) == 2.0  # the seconds it says it took
    assert run.close() == 0
    assert echo.getvalue() == "records put 10\nsettling [('shard-0', '12'), ('shard-1', '7')]\n"


def test_a_run_that_ends_before_serving_says_so_with_its_code() -> None:
    echo = io.StringIO()
    with pytest.raises(LocalRunError, match="the local run ended with code 3 before it served"):
        LocalRun(["exit-before-serving"], echo=echo, module=STAND_IN)
    assert echo.getvalue() == "records put 10\n"


def test_a_run_that_ends_while_settling_says_so_with_its_code() -> None:
    with (
        LocalRun(["exit-on-settle"], echo=io.StringIO(), module=STAND_IN) as run,
        pytest.raises(LocalRunError, match="ended with code 4 while it was settling"),
    ):
        run.settle({"shard-0": 1})
