"""The source artifact: a commit's tree, or the working tree, as the pipeline's Source action hands it to a build.

Each build gets a checkout of its own (CodeBuild starts every build from the artifact). The checkout uses this
repository's installed ``.venv`` and ``node_modules`` and carries an old modification time, so a step's
``make install`` finds them fresh instead of installing again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

INSTALLED = (".venv", "node_modules")
CHECKOUT_TIME = 946_684_800  # 2000-01-01: older than any install


class SourceError(RuntimeError):
    pass


@dataclass(frozen=True, kw_only=True)
class Source:
    repository: Path
    ref: str | None  # None: the working tree
    commit: str  # what the Source action's CommitId gives the steps

    def checkout(self, into: Path) -> Path:
        into.mkdir(parents=True)
        if self.ref is None:
            for name in _git(self.repository, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split(
                "\0"
            ):
                path = self.repository / name
                if name and path.is_file():
                    (into / name).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, into / name)
        else:
            archive = subprocess.run(  # noqa: S603 - git with our own arguments
                ["git", "-C", str(self.repository), "archive", "--format=tar", self.commit],  # noqa: S607
                check=True,
                capture_output=True,
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)  # noqa: S603, S607
        for name in INSTALLED:
            (into / name).symlink_to(self.repository / name)
        for directory, _, files in os.walk(into):
            for file in files:
                os.utime(Path(directory) / file, (CHECKOUT_TIME, CHECKOUT_TIME), follow_symlinks=False)
        return into


def source_of(repository: Path, ref: str | None) -> Source:
    """A commit (``ref``), or the working tree with its uncommitted changes (a stash commit names it)."""
    if ref is not None:
        if ref.startswith("-"):
            raise SourceError(f"{ref!r} is not a git ref")
        return Source(
            repository=repository, ref=ref, commit=_git(repository, "rev-parse", "--verify", f"{ref}^{{commit}}")
        )
    stash = _git(repository, "stash", "create")
    return Source(repository=repository, ref=None, commit=stash or _git(repository, "rev-parse", "HEAD"))


def _git(repository: Path, *arguments: str) -> str:
    result = subprocess.run(  # noqa: S603 - git with our own arguments
        ["git", "-C", str(repository), *arguments],  # noqa: S607 - git from PATH, as the Makefile runs it
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SourceError(f"git {' '.join(arguments)}: {result.stderr.strip()}")
    return result.stdout.strip()
