"""The de-aggregation benchmark names modules by string (to time their cold import): each must exist."""

from __future__ import annotations

import importlib.util

from services.iot_processor.benchmarks.deaggregation import DECODERS


def test_every_decoder_the_benchmark_compares_is_importable() -> None:
    assert {name: importlib.util.find_spec(module) is not None for name, module in DECODERS.items()} == dict.fromkeys(
        DECODERS, True
    )
