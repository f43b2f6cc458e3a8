"""docs/command-lines.md holds the --help of every command, and its check fails once a command's help changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.common.testing import documented_help, printed_help
from tools.reports import command_lines, nag_report
from tools.reports.command_lines import COMMANDS, main, render


@pytest.mark.timeout(180)  # eight interpreters start, each importing its command's libraries
def test_the_committed_document_is_what_the_commands_print(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check"]) == 0, capsys.readouterr().err


def test_a_stale_document_fails_the_check_and_a_write_brings_it_up_to_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(command_lines, "help_of", lambda module: f"usage: python -m {module} [-h]\n")
    document = tmp_path / "command-lines.md"
    document.write_text(render([(module, f"usage: python -m {module} [-h] [--old]\n") for module in COMMANDS]))
    assert main(["--check", "--doc", str(document)]) == 1
    assert f"{document} is stale: run `make docs`" in capsys.readouterr().err
    assert main(["--doc", str(document)]) == 0
    assert main(["--check", "--doc", str(document)]) == 0


def test_each_command_has_its_section_with_its_help_as_printed() -> None:
    text = render([("tools.x", "usage: python -m tools.x [-h]\n\nDoes x.\n"), ("tools.y", "usage: y\n")])
    assert text.startswith("# Command lines\n")
    assert "## `python -m tools.x`\n\n```text\nusage: python -m tools.x [-h]\n\nDoes x.\n```\n" in text
    assert text.index("tools.x") < text.index("tools.y")


def test_a_command_that_fails_to_print_its_help_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RuntimeError, match=r"python -m tools\.no_such_command --help exited 1: .*No module named"):
        command_lines.help_of("tools.no_such_command")


def test_the_commands_are_those_a_person_or_the_pipeline_runs() -> None:
    assert {"tools.local.run", "tools.steps.smoke_test", "tools.steps.bake", "tools.operations.replay"} <= set(COMMANDS)


def test_the_nag_reports_help_is_what_the_document_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    assert printed_help(nag_report.main, monkeypatch) == documented_help("tools.reports.nag_report")


def test_this_reports_own_help_names_the_document(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "--check" in printed_help(main, monkeypatch)
