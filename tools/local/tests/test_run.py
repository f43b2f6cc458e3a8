"""The local run's own logic: what it waits for before checking where readings landed, its arguments, its workload."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import pytest

from shared.synthetic.fleets import FleetMix
from shared.synthetic.readings import synthetic_records
from tools.landing.producers import Sent
from tools.local.run import build_workload, last_put, main


def test_the_run_waits_for_the_last_record_put_to_each_shard() -> None:
    record = synthetic_records(1, run_id="unit", now=datetime.now(UTC), anomaly_share=0, invalid_share=0)[0]
    # Sequence numbers compared as numbers: "10" comes after "9", and an aggregate's readings share theirs.
    sent = [
        Sent(record=record, shard_id=shard, sequence_number=number, put_at=0.0, sub_record=sub)
        for shard, number, sub in [("a", "9", None), ("a", "10", 0), ("a", "10", 1), ("b", "7", None), ("a", "8", None)]
    ]
    assert last_put(sent) == {"a": 10, "b": 7}
    assert last_put([]) == {}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--fleet", "sleepy=5"], "argument --fleet: unknown profile 'sleepy'"),
        (["--fleet", "steady=0"], "argument --fleet: the weights add up to 0"),
        (["--fleet", "steady=70", "--anomaly-share", "0.1"], "--anomaly-share does not apply to --fleet"),
        (["--seed", "seven"], "argument --seed: invalid int value: 'seven'"),
        (["--anomaly-share", "0.6", "--invalid-share", "0.5"], "add up to more than 1"),
    ],
)
def test_bad_arguments_are_refused_before_anything_starts(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(arguments)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_the_workload_is_a_fleet_when_one_is_asked_for_and_the_seed_replays_it() -> None:
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)

    def workload(*arguments: str) -> list[bytes]:
        args = argparse.Namespace(records=300, fleet=None, seed=7, anomaly_share=0.01, invalid_share=0.0)
        parsed = vars(args) | {"fleet": FleetMix.parse(arguments[0]) if arguments else None}
        return [record.data for record in build_workload(argparse.Namespace(**parsed), run_id="unit", now=now)]

    fleet = workload("flush=1")
    assert fleet == workload("flush=1")
    assert all(b"-flush-" in data for data in fleet)
    assert not any(b"-flush-" in data for data in workload())
