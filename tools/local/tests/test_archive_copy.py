"""The local run's copy of the raw archive: every key a path, the template beside it, no leftovers of a past run."""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from tools.common.local_archive import template_beside
from tools.local.archive_copy import copy_archive
from tools.local.deploy import DeployedStack
from tools.local.tests.emulated import REGION, emulated_account

STACK = DeployedStack(name="iot-local-archive", template={"Resources": {}}, outputs={}, physical_ids={})
KEYS = {
    "readings/year=2026/month=11/day=27/hour=09/local-firehose-a.gz": b"\x1f\x8b first",
    "readings/year=2026/month=11/day=27/hour=12/local-firehose-b.gz": b"\x1f\x8b second",
    "errors/processing-failed/2026/11/27/local-firehose-c": b"{}\n",
}


def test_every_object_is_written_under_its_key_and_an_old_copy_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "local-archive"
    (target / "readings" / "year=1999").mkdir(parents=True)  # a past run's partition
    with emulated_account():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="raw", CreateBucketConfiguration={"LocationConstraint": REGION})
        for key, body in KEYS.items():
            s3.put_object(Bucket="raw", Key=key, Body=body)
        assert copy_archive(s3, "raw", STACK, target) == len(KEYS)
    written = {path.relative_to(target).as_posix(): path.read_bytes() for path in target.rglob("*") if path.is_file()}
    assert written == KEYS
    assert json.loads(template_beside(target).read_text(encoding="utf-8")) == STACK.template
    assert template_beside(target) == tmp_path / "local-archive.template.json"


def test_an_empty_archive_leaves_an_empty_folder(tmp_path: Path) -> None:
    with emulated_account():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="raw", CreateBucketConfiguration={"LocationConstraint": REGION})
        assert copy_archive(s3, "raw", STACK, tmp_path / "copy") == 0
    assert list((tmp_path / "copy").iterdir()) == []
