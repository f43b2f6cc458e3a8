"""What a stage costs a month at its expected load, dimension by dimension, beside the seed's design (docs/cost.md).

    python -m tools.reports.cost [--stage prod] [--readings-per-second N] [-c iot.stages.prod.ingest.tableTtlDays=30]

Prints the stage's bill as a Markdown table (prod by default, at the load ``iot.stages.<stage>.expectedLoad`` in
cdk.json), the delivery pipeline's fixed cost in the tooling account, and the seed's design on the same model and
load. ``make cost`` prints prod's; docs/cost.md shows it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence

from shared.config import committed_context
from stages.config import load_stage
from stages.cost.model import SEED, Bill, monthly_bill, pipeline_bill, render
from stages.cost.prices import load_prices
from stages.cost.seed import seed_stage
from tools.common.arguments import positive_int, share


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="prod", help="the stage of cdk.json to price (default prod)")
    parser.add_argument("--readings-per-second", type=positive_int, help="instead of the stage's expected load")
    parser.add_argument("--reading-bytes", type=positive_int, help="instead of the stage's expected reading size")
    parser.add_argument("--anomaly-share", type=share, help="instead of the stage's expected anomaly share")
    parser.add_argument("--invalid-share", type=share, help="instead of the stage's expected invalid share")
    parser.add_argument(
        "-c",
        dest="overrides",
        action="append",
        default=[],
        metavar="iot.<path>=<value>",
        help="override a setting, as with cdk -c (repeatable)",
    )
    args = parser.parse_args(argv)
    context = committed_context()
    for override in args.overrides:
        key, equals, value = override.partition("=")
        if not equals or not key.startswith("iot."):
            parser.error(f"-c takes iot.<path>=<value>, got {override!r}")
        context[key] = value
    try:
        stage = load_stage(context, args.stage)
    except ValueError as error:  # ConfigError: an unknown stage or a bad setting
        print(f"{args.stage}: {error}", file=sys.stderr)
        return 2
    changes = {
        field: value
        for field, value in (
            ("readings_per_second", args.readings_per_second),
            ("reading_bytes", args.reading_bytes),
            ("anomaly_share", args.anomaly_share),
            ("invalid_share", args.invalid_share),
        )
        if value is not None
    }
    load = dataclasses.replace(stage.expected_load, **changes)
    if problems := load.cross_field_errors():
        parser.error("; ".join(problems))
    prices = load_prices()
    ours = monthly_bill(stage, load, prices)
    seed = monthly_bill(seed_stage(), load, prices, processor=SEED)
    print(
        f"prices: {', '.join(sorted(prices.regions))} list prices in {prices.currency}, read "
        f"{prices.oldest_reading.isoformat()} (stages/cost/prices.json); the stage runs in {stage.region}"
    )
    print()
    print(render(ours, pipeline=pipeline_bill(prices)))
    print()
    print(compare(ours, seed))
    print()
    print(render(seed))
    return 0


def compare(ours: Bill, seed: Bill) -> str:
    """Both bills side by side, service by service, and what ours costs against the seed's."""
    services = list(dict.fromkeys([*ours.by_service(), *seed.by_service()]))
    lines = [
        "| design | " + " | ".join(services) + " | USD / month | USD per million readings |",
        "| --- | " + " | ".join("---:" for _ in services) + " | ---: | ---: |",
    ]
    for name, bill in ((f"{ours.stage} (this config)", ours), ("seed design", seed)):
        totals = bill.by_service()
        lines.append(
            f"| {name} | "
            + " | ".join(f"{totals.get(service, 0.0):,.0f}" for service in services)
            + f" | {bill.monthly_usd:,.0f} | {bill.usd_per_million_readings:.4f} |"
        )
    lines += ["", f"{ours.stage} costs {ours.monthly_usd / seed.monthly_usd:.1%} of the seed's design per reading."]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
