"""The delivery pipeline rehearsed for two commits (issue 25's proof): the committed tree, then a change on top of it
that raises prod's archive-freshness alarm threshold and adds one IAM statement to the smoke-test role's archive
policy. Every stage deploys, smoke-tests and bakes in both rounds; the second round updates the stacks through change
sets, and its change report (prod's deployed templates against the new assembly) lists exactly those two changes.

The commits are a clone of this repository's HEAD (uncommitted work is not in it), sharing its installed .venv and
node_modules; the Synth step's own commands (the whole test suite) are skipped for the assembly the rehearsal
synthesizes first (``reuse_assembly``).
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from pipeline.config import load_platform_config
from shared.config import committed_context
from shared.repository import REPO_ROOT
from tools.rehearsal.accounts import Accounts
from tools.rehearsal.rehearse import Overrides, Rehearsed, rehearse
from tools.rehearsal.source import INSTALLED, source_of

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

ARCHIVE_ACCESS = Path("services/iot_archive/infra/smoke_test_access.py")
ADDED_STATEMENT = (
    'iam.PolicyStatement(sid="ReadArchiveTags", actions=["s3:GetBucketTagging"], resources=[bucket.bucket_arn]),'
)
PASSED = ("passed", "approved", "not rehearsed")
# A row of a stack's table in the change report: | change | `logical id` | type | what changed |
CHANGE_ROW = re.compile(r"^\| (\S+) \| `([^`]+)` \| (\S+) \| (.*) \|$", re.MULTILINE)


def _git(repository: Path, *arguments: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repository), *arguments], check=True, capture_output=True, text=True
    ).stdout.strip()


def _replace(path: Path, old: str, new: str, *, occurrence: int = 1) -> None:
    """``old``'s ``occurrence``-th occurrence in ``path`` replaced by ``new``."""
    parts = path.read_text(encoding="utf-8").split(old)
    assert len(parts) > occurrence, f"{path}: no occurrence {occurrence} of {old!r} to change"
    path.write_text(old.join(parts[:occurrence]) + new + old.join(parts[occurrence:]), encoding="utf-8")


@pytest.fixture(scope="module")
def rehearsed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Rehearsed, float]:
    clone = tmp_path_factory.mktemp("repository")
    subprocess.run(["git", "clone", "--quiet", "--shared", str(REPO_ROOT), str(clone)], check=True)
    _git(clone, "checkout", "--quiet", "--detach", _git(REPO_ROOT, "rev-parse", "HEAD"))
    for name in INSTALLED:
        (clone / name).symlink_to(REPO_ROOT / name)
    base = source_of(clone, "HEAD")
    # prod is the third stage of cdk.json: its archive must be fresher than 600 s instead of 300
    _replace(clone / "cdk.json", '"freshnessMarginSeconds": 300', '"freshnessMarginSeconds": 600', occurrence=3)
    _replace(
        clone / ARCHIVE_ACCESS,
        'iam.PolicyStatement(sid="DecryptArchive"',
        ADDED_STATEMENT + '\n            iam.PolicyStatement(sid="DecryptArchive"',
    )
    config = load_platform_config(committed_context())
    accounts = Accounts(
        tooling=config.pipeline.tooling_account,
        stages={stage.name: stage.account for stage in config.stages},
        region=config.stages[0].region,
    )
    started = time.monotonic()
    result = rehearse(
        [base, source_of(clone, None)],
        accounts=accounts,
        approve=lambda _label, _report: True,
        reuse_assembly=True,
        overrides=Overrides(),
        log=print,
    )
    return result, time.monotonic() - started


def test_both_rounds_deploy_smoke_test_and_bake_every_stage(rehearsed: tuple[Rehearsed, float]) -> None:
    result, seconds = rehearsed
    print(f"two rounds rehearsed in {seconds:.0f} s")  # the duration issue 25 asks to report (pytest -s shows it)
    if result.failure is not None:
        pytest.fail(f"{result.failure.label}: {result.failure.detail}\n{result.failure.output[-3000:]}")
    assert len(result.rounds) == 2
    for state in result.rounds:
        labels = {outcome.label: outcome.result for outcome in state.outcomes}
        for stage in ("Dev", "Staging", "Prod"):
            assert labels[f"{stage}/SmokeTest{stage}"] == "passed"
        bakes = [action.label for action in state.pipeline.actions if action.name.startswith("Bake")]
        assert bakes, "no stage bakes"
        assert {label: labels[label] for label in bakes} == dict.fromkeys(bakes, "passed")
        assert [o.label for o in state.outcomes if o.result not in PASSED] == []


def test_the_second_round_updates_every_stack_through_a_change_set(rehearsed: tuple[Rehearsed, float]) -> None:
    first, second = rehearsed[0].rounds
    assert set(first.change_sets.values()) == {"CREATE"}
    assert second.change_sets.keys() == first.change_sets.keys()
    assert set(second.change_sets.values()) == {"UPDATE"}
    details = {outcome.label: outcome.detail for outcome in second.outcomes}
    for changed in ("iot-prod-observability", "iot-prod-archive"):
        assert details[f"Prod/{changed}.Prepare"].startswith("update: "), details[f"Prod/{changed}.Prepare"]


def test_the_change_report_lists_exactly_the_threshold_and_the_statement(rehearsed: tuple[Rehearsed, float]) -> None:
    """The threshold shows twice, as in AWS: on the alarm, and on the dashboard that draws it beside its metric."""
    _, second = rehearsed[0].rounds
    changes = {
        (kind, logical_id[: -len("A215B7E0")], resource_type): what  # CDK's logical IDs end in 8 hex digits
        for kind, logical_id, resource_type, what in CHANGE_ROW.findall(second.change_report)
    }
    threshold = changes.pop(("modified", "AlarmsArchiveFreshness", "AWS::CloudWatch::Alarm"))
    raised = re.fullmatch(r"Threshold \((\d+) -> (\d+)\)", threshold)
    assert raised, threshold
    assert int(raised[2]) - int(raised[1]) == 300
    assert changes == {
        ("modified", "Dashboard", "AWS::CloudWatch::Dashboard"): "DashboardBody",
        ("modified", "SmokeTestArchiveRead", "AWS::IAM::Policy"): "PolicyDocument",
    }, second.change_report
    (iam,) = re.findall(r"### IAM \(1\)\n\n(.*?)\n\n", second.change_report, re.DOTALL)
    assert [line for line in iam.splitlines() if "added" in line or "removed" in line] == [
        "  - added: `Allow s3:GetBucketTagging on <RawArchiveDEFAA071.Arn> (PolicyDocument)`"
    ], iam
