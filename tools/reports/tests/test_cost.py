"""make cost: what it prints, and docs/cost.md in step with it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shared.repository import REPO_ROOT
from tools.reports import cost


def printed(*args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "tools.reports.cost", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout


def test_the_document_shows_what_the_command_prints() -> None:
    output = printed()
    assert "| **total** |" in output
    assert "of the seed's design per reading." in output
    document = (REPO_ROOT / "docs" / "cost.md").read_text(encoding="utf-8")
    assert output.strip() in document, "docs/cost.md is stale: paste `make cost`"


def test_prod_costs_at_most_half_of_the_seeds_design_per_reading() -> None:
    ratio_line = next(line for line in printed().splitlines() if "of the seed's design per reading" in line)
    share = float(ratio_line.split(" costs ")[1].split("%")[0]) / 100
    assert share <= 0.5, ratio_line


def test_a_load_and_a_setting_can_be_changed_for_one_run() -> None:
    doubled = printed("--readings-per-second", "20000", "-c", "iot.stages.prod.ingest.tableTtlDays=30")
    assert "prod (ours processor): 20,000 readings/s" in doubled
    assert "readings for 30 d" in doubled


def test_an_unknown_stage_or_a_bad_override_is_an_error_that_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert cost.main(["--stage", "qa"]) == 2
    assert "iot.stages.qa: missing" in capsys.readouterr().err
    assert cost.main(["-c", "iot.stages.prod.ingest.tableTtlDays=0"]) == 2
    assert "tableTtlDays: must be greater than 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cost.main(["-c", "tableTtlDays=30"])
    assert "-c takes iot.<path>=<value>" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cost.main(["--anomaly-share", "0.6", "--invalid-share", "0.6"])
    assert "anomalyShare + invalidShare must be at most 1" in capsys.readouterr().err
