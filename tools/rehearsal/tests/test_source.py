"""The source artifact: a commit or the working tree, checked out with this repository's installed tools."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tools.rehearsal.source import CHECKOUT_TIME, SourceError, source_of


def _git(repository: Path, *arguments: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repository), *arguments], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    root = tmp_path / "repository"
    root.mkdir()
    _git(root, "init", "--quiet", "--initial-branch", "main")
    for setting in ("user.name=t", "user.email=t@example.com", "commit.gpgsign=false"):
        _git(root, "config", *setting.split("="))
    (root / "cdk.json").write_text("committed\n")
    _git(root, "add", "cdk.json")
    _git(root, "commit", "--quiet", "-m", "first")
    return root


def test_a_commit_checks_out_as_committed_with_an_old_time(repository: Path, tmp_path: Path) -> None:
    (repository / "cdk.json").write_text("changed\n")
    source = source_of(repository, "main")
    assert source.commit == _git(repository, "rev-parse", "main")
    checkout = source.checkout(tmp_path / "checkout")
    assert (checkout / "cdk.json").read_text() == "committed\n"
    assert (checkout / "cdk.json").stat().st_mtime == CHECKOUT_TIME
    assert (checkout / ".venv").resolve() == (repository / ".venv").resolve()


def test_the_working_tree_checks_out_with_its_changes_and_untracked_files(repository: Path, tmp_path: Path) -> None:
    (repository / "cdk.json").write_text("changed\n")
    (repository / "new.py").write_text("x = 1\n")
    source = source_of(repository, None)
    assert len(source.commit) == 40
    assert source.commit != _git(repository, "rev-parse", "HEAD")  # a stash commit names the changed tree
    checkout = source.checkout(tmp_path / "checkout")
    assert (checkout / "cdk.json").read_text() == "changed\n"
    assert (checkout / "new.py").read_text() == "x = 1\n"


def test_a_clean_working_tree_is_named_by_head(repository: Path) -> None:
    assert source_of(repository, None).commit == _git(repository, "rev-parse", "HEAD")


@pytest.mark.parametrize("ref", ["-x", "--exec=rm", "no-such-branch"])
def test_a_ref_that_is_an_option_or_no_commit_is_refused(repository: Path, ref: str) -> None:
    with pytest.raises(SourceError):
        source_of(repository, ref)
