"""A big local run's time and memory: ``make local`` with many readings, each process's peak memory sampled.

    python -m tools.local.benchmarks.big_run --records 1000000 [--round-size 100000] [--every 0.5]

Runs ``python -m tools.local.run`` with the readings asked for (its output passes through), and every ``--every``
seconds reads the memory of each process of its tree from ``/proc`` (Linux only; shared pages counted in
proportion, PSS): the runner, the
emulator's processes and the function's workers. At the end it prints each kind of process's peak, the peak of
their sum, the wall time and the run's exit code, which it exits with.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tools.common.arguments import positive_int, positive_number
from tools.local.run import ROUND_READINGS

KINDS = (("emulator_server", "emulator"), ("lambda_worker", "function worker"))


def resident_mb(pid: int) -> float | None:
    """A process's resident memory with each shared page counted in proportion to its sharers (PSS), or None once
    it is gone. The emulator's copies are forks of one process: their plain resident sizes would count what they
    share once per copy."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    for line in rollup.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return None  # a zombie has no memory left


def process_tree(root: int) -> Iterator[int]:
    """``root`` and every process below it, from each thread's list of children."""
    pending = [root]
    while pending:
        pid = pending.pop()
        yield pid
        try:
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                pending.extend(int(child) for child in (task / "children").read_text().split())
            except FileNotFoundError:
                continue


def kind_of(pid: int, root: int) -> str:
    if pid == root:
        return "runner"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        return "gone"
    return next((kind for marker, kind in KINDS if marker in command), "other")


@dataclass
class Peaks:
    """The largest resident memory seen of each process, with its kind, and of the tree's sum at one sampling."""

    by_process: dict[int, tuple[str, float]] = field(default_factory=dict)
    total_mb: float = 0.0

    def sample(self, root: int) -> None:
        total = 0.0
        for pid in process_tree(root):
            resident = resident_mb(pid)
            if resident is None:
                continue
            total += resident
            kind, peak = self.by_process.get(pid) or (kind_of(pid, root), 0.0)
            self.by_process[pid] = (kind, max(peak, resident))
        self.total_mb = max(self.total_mb, total)

    def rows(self) -> list[tuple[str, int, float, float]]:
        """Per kind: how many processes, the largest one's peak, and the sum of their peaks."""
        kinds: dict[str, list[float]] = {}
        for kind, peak in self.by_process.values():
            kinds.setdefault(kind, []).append(peak)
        return [(kind, len(peaks), max(peaks), sum(peaks)) for kind, peaks in sorted(kinds.items())]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.local.benchmarks.big_run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--records", type=positive_int, default=1_000_000, help="readings (default 1000000)")
    parser.add_argument(
        "--round-size", type=positive_int, default=ROUND_READINGS, help=f"the run's --round-size ({ROUND_READINGS})"
    )
    parser.add_argument("--every", type=positive_number, default=0.5, help="seconds between samples (default 0.5)")
    parser.add_argument(
        "--log", type=Path, default=Path("reports/big-run.log"), help="processor logs (default reports/big-run.log)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = [
        sys.executable,
        "-m",
        "tools.local.run",
        "--records",
        str(args.records),
        "--round-size",
        str(args.round_size),
        "--log",
        str(args.log),
        "--dashboard",
        str(args.log.with_suffix(".html")),
    ]
    peaks, done = Peaks(), threading.Event()
    started = time.monotonic()
    run = subprocess.Popen(command)  # noqa: S603 - this interpreter running the local run
    sampler = threading.Thread(target=_sample_until, args=(peaks, run.pid, done, args.every), daemon=True)
    sampler.start()
    exit_code = run.wait()
    done.set()
    sampler.join()
    wall = time.monotonic() - started
    print(f"\n{args.records:,} readings in rounds of {args.round_size:,}: exit code {exit_code}, {wall:.1f} s wall")
    print(f"{'process (PSS)':<18}{'count':>6}{'peak of one (MB)':>18}{'sum of peaks (MB)':>19}")
    for kind, count, largest, summed in peaks.rows():
        print(f"{kind:<18}{count:>6}{largest:>18,.0f}{summed:>19,.0f}")
    print(f"{'all at once':<18}{'':>6}{'':>18}{peaks.total_mb:>19,.0f}")
    return exit_code


def _sample_until(peaks: Peaks, root: int, done: threading.Event, every: float) -> None:
    while not done.is_set():
        peaks.sample(root)
        done.wait(every)


if __name__ == "__main__":
    sys.exit(main())
