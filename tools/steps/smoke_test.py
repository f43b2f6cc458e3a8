"""Smoke test of a deployed stage: put synthetic readings, then prove where every one of them landed.

    python -m tools.steps.smoke_test --stage dev [--role-arn ARN] [--records 200] [--timeout 900]
    python -m tools.steps.smoke_test --from-environment   (in the pipeline: INGEST_*, ARCHIVE_* variables)

The same checks as the local run: valid readings must be in the readings table (anomalies flagged), invalid
records in quarantine with the expected reason, every record in the raw archive (readings in the partition of
their own event time, unpartitionable records under the error prefix), and every anomaly alerted (read from
the stage's alert inbox, a queue subscribed to the alert topic that admits only smoke-test runs). A record that
went to the processor's failure destination is reported there. Where the stage has the MQTT front door, a
few more readings are published through AWS IoT Core and must reach the table too (tools/steps/smoke_mqtt.py;
--skip-mqtt). Exits 1 with the list of what is missing, and where; 2 on bad arguments or missing outputs.
Targets come from the stage's stack outputs (iot-<stage>-ingest, iot-<stage>-archive), or from the
pipeline's environment variables with --from-environment, which also names the smoke-test role to assume.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from shared.infra.naming import SMOKE_RUN_PREFIX
from shared.synthetic.readings import synthetic_records
from tools.common.arguments import positive_int, positive_number, share
from tools.common.aws_session import session_for
from tools.landing.locate import AlertInbox, Checks, wait_for_landing
from tools.landing.producers import put_records
from tools.landing.report import report
from tools.landing.targets import MissingOutputError, Targets, add_target_source, target_role
from tools.steps.smoke_mqtt import mqtt_leg


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.steps.smoke_test",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_target_source(
        parser,
        stage_help="stage name: targets come from iot-<stage>-ingest/archive stack outputs",
        environment_help="targets from the pipeline's INGEST_*/ARCHIVE_* variables",
    )
    parser.add_argument("--records", type=positive_int, default=200, help="how many synthetic records (default 200)")
    parser.add_argument("--anomaly-share", type=share, default=0.05, help="share of anomalies (default 0.05)")
    parser.add_argument("--invalid-share", type=share, default=0.03, help="share of invalid records (default 0.03)")
    parser.add_argument(
        "--timeout",
        type=positive_number,
        default=900,
        help="seconds to wait for every record; the archive needs the Firehose buffer interval (default 900)",
    )
    parser.add_argument(
        "--skip-mqtt", action="store_true", help="do not publish through MQTT even where the stage has it"
    )
    return parser


def main(argv: list[str] | None = None, environment: Mapping[str, str] = os.environ) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.anomaly_share + args.invalid_share > 1:
        parser.error("--anomaly-share and --invalid-share add up to more than 1")
    role_arn = target_role(parser, args, environment)
    session = session_for(role_arn, session_name="iot-smoke-test")
    try:
        targets = (
            Targets.from_environment(environment) if args.from_environment else Targets.from_stage(session, args.stage)
        )
        inbox_url = targets.require_alert_inbox()
        targets.require_archive()
    except MissingOutputError as error:
        print(f"error: {error}; the smoke test needs it", file=sys.stderr)
        return 2
    except ClientError as error:  # the stage's stacks cannot be read: not deployed, or not this account or region
        print(f"error: cannot read the outputs of stage {args.stage!r}: {error}", file=sys.stderr)
        return 2
    run_id = f"{SMOKE_RUN_PREFIX}{uuid.uuid4().hex[:12]}"
    records = synthetic_records(
        args.records,
        run_id=run_id,
        now=datetime.now(UTC),
        anomaly_share=args.anomaly_share,
        invalid_share=args.invalid_share,
    )
    print(f"run {run_id}: putting {len(records)} records to {targets.stream_name}")
    sent = put_records(session.client("kinesis"), targets.stream_name, records)
    checks = Checks(archive=True, alerts=AlertInbox(session.client("sqs"), inbox_url))
    landing = wait_for_landing(session, targets, sent, checks=checks, timeout=args.timeout)
    text, ok = report(sent, landing, checks=checks)
    print(text)
    if not args.skip_mqtt:
        mqtt_environment = environment if args.from_environment else None
        ok = mqtt_leg(session, targets, stage=args.stage, environment=mqtt_environment, run_id=run_id) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
