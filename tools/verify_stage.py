"""Post-deploy check of one stage from its stack outputs (the pipeline passes them as environment variables).

    STAGE_NAME=dev INGEST_STREAMARN=... python -m tools.verify_stage

Fails, naming each problem, when an output the platform promises is missing or does not belong to the
stage's account and region.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping

# Output environment variable -> what its value must look like (ACCOUNT and REGION stand for the stage's).
EXPECTED_OUTPUTS = {
    "INGEST_STREAMARN": r"arn:aws[a-z-]*:kinesis:REGION:ACCOUNT:stream/.+",
    "INGEST_STREAMNAME": r"[A-Za-z0-9_.-]{1,128}",
    "INGEST_STREAMKEYARN": r"arn:aws[a-z-]*:kms:REGION:ACCOUNT:key/[0-9a-f-]{36}",
    "ARCHIVE_RAWBUCKETNAME": r"[a-z0-9][a-z0-9.-]{2,62}",
    "OBSERVABILITY_OPSTOPICARN": r"arn:aws[a-z-]*:sns:REGION:ACCOUNT:.+",
}


def problems(environment: Mapping[str, str]) -> list[str]:
    account, region = environment.get("STAGE_ACCOUNT", ""), environment.get("STAGE_REGION", "")
    if not (account and region):
        return ["STAGE_ACCOUNT and STAGE_REGION must be set"]
    found = []
    for name, shape in EXPECTED_OUTPUTS.items():
        value = environment.get(name)
        pattern = shape.replace("ACCOUNT", re.escape(account)).replace("REGION", re.escape(region))
        if not value:
            found.append(f"{name}: missing")
        elif not re.fullmatch(pattern, value):
            found.append(f"{name}: {value!r} does not match {pattern}")
    return found


def main() -> int:
    found = problems(os.environ)
    stage = os.environ.get("STAGE_NAME", "?")
    for problem in found:
        print(f"stage {stage}: {problem}", file=sys.stderr)
    if not found:
        print(f"stage {stage}: all {len(EXPECTED_OUTPUTS)} outputs present and well-formed")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
