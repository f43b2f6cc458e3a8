"""The benchmark finds what it compares against: the repository (for the cold import) and the seed's handler."""

from __future__ import annotations

from services.iot_processor.benchmarks import processor


def test_the_benchmark_runs_from_the_repository_root_and_looks_for_the_seed_beside_it() -> None:
    assert (processor.REPO_ROOT / "cdk.json").is_file()
    assert (processor.REPO_ROOT / "services" / "iot_processor" / "runtime" / "handler.py").is_file()
    assert processor.REPO_ROOT.parent / "shared" / "baseline" / "seed_handler.py" == processor.SEED_HANDLER
