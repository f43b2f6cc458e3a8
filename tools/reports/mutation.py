"""Mutation testing by area: run one area's mutants, resumably, and print every area's score and survivors.

    python -m tools.reports.mutation areas                        # the areas and what each mutates
    python -m tools.reports.mutation run --area steps [--max-children 2]
    python -m tools.reports.mutation report [--area steps] [--fail-under 90]
    python -m tools.reports.mutation changed --base origin/main   # the areas a change touches (CI runs those)

The areas are ``[tool.mutation.areas.<name>]`` in pyproject.toml: the modules mutmut mutates (``mutate``) and the
tests it runs against them (``tests``, pytest arguments). Each area runs in a copy of this tree of its own,
``build/mutation/<area>/``, with mutmut's configuration narrowed to the area; mutmut keeps its results there, so a
run that stops (Ctrl-C, a timeout, a reboot) goes on where it was, and a run after a change tests only the functions
that changed. A surviving mutant is a missing test or an equivalent mutant; docs/testing.md lists the equivalent
ones with the reason, and the report marks every survivor it does not explain with ``!``.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.repository import REPO_ROOT

WORK_ROOT = REPO_ROOT / "build" / "mutation"
EQUIVALENTS = REPO_ROOT / "docs" / "testing.md"
DETECTED = ("killed", "timeout")  # a mutant that makes the tests hang is caught by the tests' timeouts
NOT_KILLED = ("survived", "no tests", "suspicious", "segfault", "not checked")
# What a copy needs beside the tracked files: linked, not copied (the CDK CLI's resource specification, the venv).
LINKED = ("node_modules", ".venv")


@dataclass(frozen=True, kw_only=True)
class Area:
    name: str
    mutate: tuple[str, ...]  # glob patterns of the modules mutmut mutates (``*`` spans folders, as in mutmut)
    tests: tuple[str, ...]  # pytest arguments selecting the tests run against them
    excluded: tuple[str, ...] = ()  # mutmut's do_not_mutate: what the patterns match but is never mutated

    def mutates(self, path: str) -> bool:
        return any(fnmatch.fnmatch(path, p) for p in self.mutate) and not any(
            fnmatch.fnmatch(path, p) for p in self.excluded
        )

    def touched_by(self, paths: Sequence[str]) -> bool:
        return any(self.mutates(path) for path in paths)


@dataclass(frozen=True, kw_only=True)
class Score:
    area: str
    counts: Mapping[str, int]
    survivors: Mapping[str, str]  # mutant -> status

    @property
    def total(self) -> int:
        return sum(self.counts.get(status, 0) for status in (*DETECTED, *NOT_KILLED))

    @property
    def detected(self) -> int:
        return sum(self.counts.get(status, 0) for status in DETECTED)

    @property
    def percent(self) -> float:
        return 100 * self.detected / self.total if self.total else 0.0


def load_areas(pyproject: Path = REPO_ROOT / "pyproject.toml") -> dict[str, Area]:
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    try:
        areas = config["tool"]["mutation"]["areas"]
    except KeyError:
        raise SystemExit(f"error: {pyproject} has no [tool.mutation.areas]") from None
    excluded = tuple(config["tool"].get("mutmut", {}).get("do_not_mutate", []))
    found = {}
    for name, area in areas.items():
        mutate, tests = area.get("mutate"), area.get("tests")
        if not (isinstance(mutate, list) and mutate and all(isinstance(p, str) for p in mutate)):
            raise SystemExit(f"error: [tool.mutation.areas.{name}] needs mutate, a list of module patterns")
        if not (isinstance(tests, list) and tests and all(isinstance(p, str) for p in tests)):
            raise SystemExit(f"error: [tool.mutation.areas.{name}] needs tests, a list of pytest arguments")
        found[name] = Area(name=name, mutate=tuple(mutate), tests=tuple(tests), excluded=excluded)
    return found


def area_pyproject(text: str, area: Area) -> str:
    """pyproject.toml with mutmut's configuration narrowed to ``area``: its modules, its tests."""
    narrowed = re.sub(r"(?ms)^only_mutate = \[.*?^\]\n", "", text)
    narrowed = re.sub(r"(?ms)^pytest_add_cli_args_test_selection = \[.*?^\]\n", "", narrowed)
    settings = (
        f"only_mutate = {json.dumps(list(area.mutate))}\n"
        f"pytest_add_cli_args_test_selection = {json.dumps(list(area.tests))}\n"
    )
    if "[tool.mutmut]\n" not in narrowed:
        raise SystemExit("error: pyproject.toml has no [tool.mutmut] section")
    return narrowed.replace("[tool.mutmut]\n", f"[tool.mutmut]\n{settings}", 1)


def prepare_copy(area: Area, *, root: Path = REPO_ROOT, work_root: Path = WORK_ROOT) -> Path:
    """This tree's tracked and new files, copied into the area's folder; mutmut's results there are kept."""
    copy = work_root / area.name
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],  # noqa: S607 - git from PATH, as make does
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    for relative in files:
        source, target = root / relative, copy / relative
        if not source.is_file():
            continue  # deleted in the tree, not yet in git
        if not target.exists() or target.read_bytes() != source.read_bytes():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    for name in LINKED:
        link = copy / name
        if (root / name).exists() and not link.exists():
            link.symlink_to(root / name)
    pyproject = copy / "pyproject.toml"
    pyproject.write_text(area_pyproject((root / "pyproject.toml").read_text(encoding="utf-8"), area), encoding="utf-8")
    return copy


def run_area(area: Area, *, max_children: int, again: Sequence[str] = ()) -> int:
    """Run the area's mutants that have no result yet; ``again`` names mutants to run anew (after a new test)."""
    copy = prepare_copy(area)
    mutants = copy / "mutants"
    mutants.mkdir(exist_ok=True)
    for name in LINKED:  # tests read REPO_ROOT/node_modules, and mutmut runs them from mutants/
        link = mutants / name
        if not link.exists():
            link.symlink_to(REPO_ROOT / name)
    environment = {**os.environ, "PYTHONPATH": str(copy)}
    return subprocess.run(  # noqa: S603 - our own virtualenv's mutmut
        [sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children), *again],
        cwd=copy,
        env=environment,
        check=False,  # its exit code is ours
    ).returncode


def read_score(area: Area, *, work_root: Path = WORK_ROOT) -> Score | None:
    copy = work_root / area.name
    if not (copy / "mutants").is_dir():
        return None

    def mutmut(*arguments: str) -> str:
        return subprocess.run(  # noqa: S603 - our own virtualenv's mutmut
            [sys.executable, "-m", "mutmut", *arguments],
            cwd=copy,
            env={**os.environ, "PYTHONPATH": str(copy)},
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    mutmut("export-cicd-stats")
    counts = {
        name: int(value) for name, value in json.loads((copy / "mutants/mutmut-cicd-stats.json").read_text()).items()
    }
    survivors = {}
    for line in mutmut("results").splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name and status in NOT_KILLED:
            survivors[name] = status
    return Score(area=area.name, counts=counts, survivors=survivors)


def render(scores: Sequence[Score], *, explained: str) -> str:
    lines = [f"{'area':<16}{'mutants':>9}{'killed':>9}{'not killed':>12}{'score':>9}{'unexplained':>13}"]
    for score in scores:
        unexplained = [name for name in score.survivors if name not in explained]
        lines.append(
            f"{score.area:<16}{score.total:>9}{score.detected:>9}{len(score.survivors):>12}"
            f"{score.percent:>8.1f}%{len(unexplained):>13}"
        )
    for score in scores:
        for name in sorted(score.survivors):
            lines.append(f"  {'  ' if name in explained else '! '}{name}: {score.survivors[name]}")
    return "\n".join(lines)


def changed_files(base: str, *, root: Path = REPO_ROOT) -> list[str]:
    return subprocess.run(  # noqa: S603 - fixed command
        ["git", "diff", "--name-only", f"{base}...HEAD"],  # noqa: S607 - git from PATH
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.reports.mutation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("areas", help="list the areas and what each mutates")
    run = commands.add_parser("run", help="run one area's mutants (resumable)")
    run.add_argument("--area", required=True)
    run.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    run.add_argument(
        "--survivors", action="store_true", help="run again the mutants the last run did not kill (after new tests)"
    )
    report = commands.add_parser("report", help="every area's score, or one area's, and the survivors")
    report.add_argument("--area")
    report.add_argument("--fail-under", type=float, default=0.0, help="exit 1 when an area's score is lower")
    changed = commands.add_parser("changed", help="the areas whose modules a change touches, one per line")
    changed.add_argument("--base", required=True, help="the git ref the change is compared with")
    args = parser.parse_args(argv)
    areas = load_areas()
    if getattr(args, "area", None) is not None and args.area not in areas:
        parser.error(f"unknown area {args.area!r}; the areas are {', '.join(sorted(areas))}")
    if args.command == "areas":
        for area in areas.values():
            print(f"{area.name:<16}{' '.join(area.mutate)}")
        return 0
    if args.command == "run":
        if args.max_children < 1:
            parser.error("--max-children must be 1 or more")
        area = areas[args.area]
        again: list[str] = []
        if args.survivors:
            score = read_score(area)
            again = sorted(score.survivors) if score else []
            if not again:
                print(f"no survivors to run again in {area.name}")
                return 0
        return run_area(area, max_children=args.max_children, again=again)
    if args.command == "changed":
        paths = changed_files(args.base)
        for area in areas.values():
            if area.touched_by(paths):
                print(area.name)
        return 0
    chosen = [areas[args.area]] if args.area else list(areas.values())
    scores = [score for area in chosen if (score := read_score(area)) is not None]
    if not scores:
        print("no results yet: run `make mutation AREA=<area>` first", file=sys.stderr)
        return 1
    print(render(scores, explained=EQUIVALENTS.read_text(encoding="utf-8")))
    return 1 if any(score.percent < args.fail_under for score in scores) else 0


if __name__ == "__main__":
    sys.exit(main())
