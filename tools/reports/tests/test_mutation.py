"""The mutation runner's own logic: the areas it reads, the configuration it narrows, the areas a change touches,
and the score it prints (running mutmut itself is `make mutation`'s)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tools.common.testing import documented_help, printed_help
from tools.reports import mutation
from tools.reports.mutation import Area, Score, area_pyproject, load_areas, render

PYPROJECT = """[project]
name = "x"

[tool.mutmut]
source_paths = ["services"]
do_not_mutate = ["*/tests/*"]
only_mutate = [
    "old/*.py",
]
pytest_add_cli_args_test_selection = [
    "old/tests",
]
pytest_add_cli_args = ["-p", "no:randomly"]

[tool.mutation.areas.steps]
mutate = ["tools/steps/*.py"]
tests = ["tools/steps/tests"]
"""


def test_the_areas_are_read_from_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    assert load_areas(tmp_path / "pyproject.toml") == {
        "steps": Area(name="steps", mutate=("tools/steps/*.py",), tests=("tools/steps/tests",), excluded=("*/tests/*",))
    }


@pytest.mark.parametrize(
    ("area", "message"),
    [
        ('mutate = []\ntests = ["t"]', "needs mutate"),
        ('mutate = "tools/*.py"\ntests = ["t"]', "needs mutate"),
        ('mutate = ["tools/*.py"]', "needs tests"),
        ('mutate = ["tools/*.py"]\ntests = [1]', "needs tests"),
    ],
)
def test_an_area_without_modules_or_tests_is_refused_by_name(tmp_path: Path, area: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.mutation.areas.broken]\n{area}\n")
    with pytest.raises(SystemExit, match=rf"\[tool\.mutation\.areas\.broken\] {message}"):
        load_areas(tmp_path / "pyproject.toml")


def test_without_areas_it_says_so(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    with pytest.raises(SystemExit, match=r"has no \[tool\.mutation\.areas\]"):
        load_areas(tmp_path / "pyproject.toml")


def test_an_areas_copy_mutates_only_its_modules_with_only_its_tests() -> None:
    area = Area(name="steps", mutate=("tools/steps/*.py", "tools/landing/*.py"), tests=("tools/steps/tests",))
    mutmut = tomllib.loads(area_pyproject(PYPROJECT, area))["tool"]["mutmut"]
    assert mutmut["only_mutate"] == ["tools/steps/*.py", "tools/landing/*.py"]
    assert mutmut["pytest_add_cli_args_test_selection"] == ["tools/steps/tests"]
    assert mutmut["source_paths"] == ["services"]  # the rest of the section stays
    assert mutmut["pytest_add_cli_args"] == ["-p", "no:randomly"]


def test_the_repositorys_own_areas_cover_what_the_pipeline_and_people_run() -> None:
    areas = load_areas()
    assert {"processor", "steps", "local", "operations", "config", "infrastructure"} <= areas.keys()
    assert not [name for name, area in areas.items() if area.mutates("tools/steps/tests/test_bake.py")]
    for path in (
        "tools/steps/smoke_test.py",
        "tools/landing/locate.py",
        "tools/local/firehose.py",
        "tools/operations/replay.py",
        "shared/config.py",
        "pipeline/pipeline_stack.py",
        "services/iot_processor/runtime/batch.py",
    ):
        assert [name for name, area in areas.items() if area.touched_by([path])], path


@pytest.mark.parametrize(
    ("paths", "touched"),
    [
        (["tools/steps/bake.py"], True),
        (["docs/testing.md", "tools/steps/tests/test_bake.py"], False),
        (["tools/stepsbake.py"], False),
        ([], False),
    ],
)
def test_an_area_is_touched_only_by_a_change_to_a_module_it_mutates(paths: list[str], touched: bool) -> None:
    area = Area(name="steps", mutate=("tools/steps/*.py",), tests=("tools/steps/tests",), excluded=("*/tests/*",))
    assert area.touched_by(paths) is touched


def test_the_score_counts_timeouts_as_caught_and_marks_survivors_not_explained() -> None:
    scores = [
        Score(
            area="steps",
            counts={"killed": 90, "timeout": 2, "survived": 7, "no tests": 1},
            survivors={"a.x__mutmut_1": "survived", "a.x__mutmut_2": "no tests"},
        ),
        Score(area="local", counts={"killed": 10}, survivors={}),
    ]
    assert (scores[0].total, scores[0].detected, scores[0].percent) == (100, 92, 92.0)
    lines = render(scores, explained="| `a.x__mutmut_1` | ... |").splitlines()
    assert lines[1] == f"{'steps':<16}{100:>9}{92:>9}{2:>12}{'92.0':>8}%{1:>13}"
    assert lines[2] == f"{'local':<16}{10:>9}{10:>9}{0:>12}{'100.0':>8}%{0:>13}"
    assert lines[3:] == ["    a.x__mutmut_1: survived", "  ! a.x__mutmut_2: no tests"]


def test_an_area_with_no_mutants_scores_0() -> None:
    assert Score(area="empty", counts={}, survivors={}).percent == 0.0


def test_an_unknown_area_exits_2_naming_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        mutation.main(["run", "--area", "nowhere"])
    assert exit_info.value.code == 2
    assert "unknown area 'nowhere'; the areas are " in capsys.readouterr().err


def test_the_areas_command_lists_each_area_with_its_modules(capsys: pytest.CaptureFixture[str]) -> None:
    assert mutation.main(["areas"]) == 0
    first = capsys.readouterr().out.splitlines()[0].split()
    assert first[0] == "processor"
    assert "services/iot_processor/runtime/*.py" in first[1:]


def test_the_help_is_what_docs_command_lines_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    assert printed_help(mutation.main, monkeypatch) == documented_help("tools.reports.mutation")
