"""The emulator benchmark: a line of figures per kind of request, on a real emulator, and a validated flag."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tools.local.benchmarks import emulator as bench_emulator

FIGURES = re.compile(r"^(?P<name>.+?)\s+(?P<server>\d+\.\d\d) ms\s+(?P<client>\d+\.\d\d) ms\s+(?P<wall>\d+\.\d\d) ms$")


def test_every_kind_of_request_gets_its_costs_and_a_batch_read_a_full_batch(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    found: dict[str, int] = {}
    measure = bench_emulator.measure

    def measured(name: str, call: Callable[[], Any], **options: Any) -> bench_emulator.RequestCost:
        if "BatchGetItem" in name:
            found[name] = len(call()["Responses"][bench_emulator.TABLE])
        return measure(name, call, **options)

    monkeypatch.setattr(bench_emulator, "measure", measured)
    assert bench_emulator.main(["--requests", "1"]) == 0  # one write of 25 before the reads: still a full batch
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split()[-5:] == ["emulator", "CPU", "client", "CPU", "wall"]
    figures = [FIGURES.match(row) for row in rows]
    assert all(figures), rows
    assert [match["name"] for match in figures if match] == [
        "DynamoDB GetItem, a missing key (the fixed cost)",
        "DynamoDB BatchWriteItem of 25 readings' items",
        "DynamoDB BatchGetItem of 100 whole items",
        "DynamoDB BatchGetItem of 100 items, keys and flag projected",
        "Kinesis PutRecords of 500",
        "Kinesis GetShardIterator, GetRecords of 500, the consumers' client",
    ]
    # every request costs the client and the wall clock something; the emulator's clock ticks are 10 ms, so a
    # cheap request may read as zero on its side
    assert all(float(match["client"]) > 0 and float(match["wall"]) > 0 for match in figures if match)
    assert list(found.values()) == [bench_emulator.GET_BATCH] * 2


@pytest.mark.parametrize("requests", ["0", "-3", "many"])
def test_the_request_count_must_be_a_positive_integer(requests: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench_emulator.main(["--requests", requests])
    assert "--requests" in capsys.readouterr().err
