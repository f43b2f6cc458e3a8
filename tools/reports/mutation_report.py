"""Prints the mutation score of the last `mutmut run` and every mutant that was not killed.

Run by `make mutation` after mutmut. A surviving mutant is either a missing test or an equivalent mutant (a
change no test can observe); docs/testing.md lists the equivalent ones with the reason, and this report marks
every survivor that the document does not explain.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

STATS = Path("mutants/mutmut-cicd-stats.json")
EQUIVALENTS = Path("docs/testing.md")
DETECTED = ("killed", "timeout")  # a mutant that makes the tests hang is caught by the tests' timeouts
NOT_KILLED = ("survived", "no tests", "suspicious", "segfault", "not checked")


@dataclass(frozen=True, kw_only=True)
class Score:
    counts: dict[str, int]
    survivors: dict[str, str]  # mutant -> status

    @property
    def total(self) -> int:
        return self.counts["total"]

    @property
    def detected(self) -> int:
        return sum(self.counts.get(status, 0) for status in DETECTED)

    @property
    def percent(self) -> float:
        return 100 * self.detected / self.total if self.total else 0.0


def mutmut(*arguments: str) -> str:
    return subprocess.run(  # noqa: S603 - our own virtualenv's mutmut
        [sys.executable, "-m", "mutmut", *arguments], check=True, capture_output=True, text=True
    ).stdout


def read_score() -> Score:
    mutmut("export-cicd-stats")
    counts = {name: int(value) for name, value in json.loads(STATS.read_text()).items()}
    survivors = {}
    for line in mutmut("results").splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name and status in NOT_KILLED:
            survivors[name] = status
    return Score(counts=counts, survivors=survivors)


def render(score: Score, *, explained: str) -> str:
    lines = [f"{name}: {score.counts[name]}" for name in sorted(score.counts) if name != "total" and score.counts[name]]
    lines.append(f"mutation score: {score.detected}/{score.total} killed = {score.percent:.1f} %")
    unexplained = [name for name in sorted(score.survivors) if name not in explained]
    lines.append(
        f"not killed: {len(score.survivors)}, of which not listed as equivalent in {EQUIVALENTS}: {len(unexplained)}"
    )
    lines += [
        f"  {'  ' if name in explained else '! '}{name}: {score.survivors[name]}" for name in sorted(score.survivors)
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fail-under", type=float, default=0.0, help="exit 1 when the score (percent) is lower")
    arguments = parser.parse_args(argv)
    score = read_score()
    print(render(score, explained=EQUIVALENTS.read_text() if EQUIVALENTS.exists() else ""))
    return 1 if score.percent < arguments.fail_under else 0


if __name__ == "__main__":
    sys.exit(main())
