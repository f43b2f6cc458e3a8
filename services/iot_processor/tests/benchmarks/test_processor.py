"""The benchmark finds what it compares against: the seed's handler, beside the repository."""

from __future__ import annotations

from services.iot_processor.benchmarks import processor
from shared.repository import REPO_ROOT


def test_the_benchmark_looks_for_the_seed_beside_the_repository() -> None:
    assert REPO_ROOT.parent / "shared" / "baseline" / "seed_handler.py" == processor.SEED_HANDLER
