"""Debian's Chromium, headless, for what needs a page rendered: the dashboard's browser test and its picture in docs/.

Started with a fresh profile and everything that would reach the network off; nothing here downloads a browser
(``make browser`` installs Debian's package where it can).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
RENDER_BUDGET_MS = 15_000  # virtual time the page's scripts get before the DOM or the picture is taken
TIMEOUT_SECONDS = 120


class ChromiumError(RuntimeError):
    pass


def missing_reason(executable: Path = CHROMIUM) -> str | None:
    """Why the browser cannot run here, or None when it can."""
    return None if executable.is_file() else f"{executable} is not installed (make browser installs Debian's chromium)"


def rendered_dom(page: Path, *, executable: Path = CHROMIUM) -> str:
    """The page's DOM after its scripts have run."""
    return _run(executable, f"--virtual-time-budget={RENDER_BUDGET_MS}", "--dump-dom", page.resolve().as_uri())


def screenshot(page: Path, output: Path, *, width: int, height: int, executable: Path = CHROMIUM) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    _run(
        executable,
        f"--virtual-time-budget={RENDER_BUDGET_MS}",
        f"--window-size={width},{height}",
        f"--screenshot={output.resolve()}",
        page.resolve().as_uri(),
    )
    if not output.is_file():
        raise ChromiumError(f"chromium wrote no picture of {page} to {output}")


def _run(executable: Path, *arguments: str) -> str:
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        done = subprocess.run(  # noqa: S603 - a fixed executable, our own arguments
            [str(executable), *FLAGS, f"--user-data-dir={profile}", *arguments],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    if done.returncode != 0:
        raise ChromiumError(f"chromium exited with {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout
