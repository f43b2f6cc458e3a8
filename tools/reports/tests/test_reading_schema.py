"""make schema: writes the generated reading schema, says when it was already current, refuses a missing folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.json_schema.reading import rendered
from tools.reports.reading_schema import main


def test_it_writes_the_schema_then_finds_it_up_to_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "reading.schema.json"
    assert main(["--output", str(output)]) == 0
    assert output.read_text(encoding="utf-8") == rendered()
    assert capsys.readouterr().out == f"{output}: written\n"
    assert main(["--output", str(output)]) == 0
    assert capsys.readouterr().out == f"{output}: up to date\n"


def test_a_stale_file_is_rewritten(tmp_path: Path) -> None:
    output = tmp_path / "reading.schema.json"
    output.write_text("{}\n", encoding="utf-8")
    assert main(["--output", str(output)]) == 0
    assert output.read_text(encoding="utf-8") == rendered()


def test_a_missing_folder_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--output", str(tmp_path / "absent" / "reading.schema.json")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'absent'} is not a folder\n"


def test_an_unknown_argument_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--outptu", "x"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: --outptu" in capsys.readouterr().err
