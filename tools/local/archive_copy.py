"""The local run's raw archive, copied from the emulator's S3 (in memory, gone with the run) to a folder on disk.

Each object's key becomes a path under the folder, so the copy has the layout Athena reads in the real bucket
(``readings/year=.../hour=.../*.gz``), and the archive stack's template goes beside it for its Glue table.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tools.common.local_archive import template_beside
from tools.local.deploy import DeployedStack


def copy_archive(s3: Any, bucket: str, stack: DeployedStack, target: Path) -> int:
    """Replace ``target`` with every object of ``bucket``; return how many objects were written."""
    shutil.rmtree(target, ignore_errors=True)  # the emulator holds the whole archive: an old copy would only mislead
    target.mkdir(parents=True)
    written = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            path = target / entry["Key"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read())
            written += 1
    template_beside(target).write_text(json.dumps(stack.template, indent=1), encoding="utf-8")
    return written
