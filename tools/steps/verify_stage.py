"""Post-deploy check of one stage from its stack outputs (the pipeline passes them as environment variables).

    STAGE_NAME=dev STAGE_ACCOUNT=... STAGE_REGION=... INGEST_STREAMARN=... python -m tools.steps.verify_stage

Fails, naming each problem, when an output the platform promises is missing or does not belong to the
stage's account and region. Exits 0 when every output is present and well-formed, 1 otherwise.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping

from pipeline import step_environment as variables
from services.iot_archive import contract as archive
from services.iot_processor import contract as ingest
from services.observability import contract as observability
from shared.infra.naming import output_variable

# Output environment variable -> what its value must look like (ACCOUNT and REGION stand for the stage's).
EXPECTED_OUTPUTS = {
    output_variable(ingest.SERVICE, ingest.Output.STREAM_ARN): r"arn:aws[a-z-]*:kinesis:REGION:ACCOUNT:stream/.+",
    output_variable(ingest.SERVICE, ingest.Output.STREAM_NAME): r"[A-Za-z0-9_.-]{1,128}",
    output_variable(
        ingest.SERVICE, ingest.Output.STREAM_KEY_ARN
    ): r"arn:aws[a-z-]*:kms:REGION:ACCOUNT:key/[0-9a-f-]{36}",
    output_variable(archive.SERVICE, archive.Output.RAW_BUCKET_NAME): r"[a-z0-9][a-z0-9.-]{2,62}",
    output_variable(observability.SERVICE, observability.Output.OPS_TOPIC_ARN): r"arn:aws[a-z-]*:sns:REGION:ACCOUNT:.+",
}


def problems(environment: Mapping[str, str]) -> list[str]:
    account, region = environment.get(variables.STAGE_ACCOUNT, ""), environment.get(variables.STAGE_REGION, "")
    if not (account and region):
        return [f"{variables.STAGE_ACCOUNT} and {variables.STAGE_REGION} must be set"]
    found = []
    for name, shape in EXPECTED_OUTPUTS.items():
        value = environment.get(name)
        pattern = shape.replace("ACCOUNT", re.escape(account)).replace("REGION", re.escape(region))
        if not value:
            found.append(f"{name}: missing")
        elif not re.fullmatch(pattern, value):
            found.append(f"{name}: {value!r} does not match {pattern}")
    return found


def main(environment: Mapping[str, str] = os.environ) -> int:
    found = problems(environment)
    stage = environment.get(variables.STAGE_NAME, "?")
    for problem in found:
        print(f"stage {stage}: {problem}", file=sys.stderr)
    if not found:
        print(f"stage {stage}: all {len(EXPECTED_OUTPUTS)} outputs present and well-formed")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
