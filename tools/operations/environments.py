"""``make environments``: what every stage runs and how far it is behind main; with two stages, what promoting the
first to the second would change.

    python -m tools.operations.environments [--main origin/main] [--repository .]
        [--profile STAGE=PROFILE ...] [--role-arn STAGE=ARN ...]
    python -m tools.operations.environments SOURCE TARGET [...]          e.g. staging prod

Each stage's record is the one its last pipeline step wrote in its account (tools/steps/record_deployment.py): the
commit, the cloud assembly's digest, the pipeline execution and the time. How far a commit is behind main is git's
count in this clone (``git fetch`` first). Each stage is read with its own credentials: an AWS profile or a role to
assume per stage, the caller's credentials otherwise.

With two stages named, the change report (tools/common/stack_changes.py) compares TARGET's deployed templates with
SOURCE's, read as TARGET would run them (SOURCE's account and stage name replaced by TARGET's in resource names and
ARNs). What differs is what promoting SOURCE's commit to TARGET would change there: the code between the two commits,
and the settings in which the stages differ (sizes, thresholds, retention).

Exits 0 when every record was read, 1 when a stage has none or it cannot be read (the others are still shown), 2 on a
bad argument.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from pipeline.config import PlatformConfig, load_platform_config
from services.observability import contract as observability
from shared.config import ConfigError, committed_context
from stages.config import StageConfig
from tools.common.aws_session import session_for
from tools.common.deployment_record import DeploymentRecord, RecordError
from tools.common.stack_changes import ReplacementSpec, compare, deployed_templates, render_markdown

if TYPE_CHECKING:
    from mypy_boto3_ssm.client import SSMClient

SessionFactory = Callable[["StageAccess"], boto3.Session]
_GIT_UNKNOWN_COMMIT = 128


@dataclass(frozen=True, kw_only=True)
class StageAccess:
    stage: StageConfig
    role_arn: str | None = None
    profile: str | None = None


@dataclass(frozen=True, kw_only=True)
class StageRun:
    stage: str
    record: DeploymentRecord | None
    behind: str = "-"
    problem: str = ""


def stage_session(access: StageAccess) -> boto3.Session:
    """The stage's AWS profile, or the role named for it assumed, or the caller's credentials."""
    if access.profile:
        return boto3.Session(profile_name=access.profile)
    return session_for(access.role_arn, session_name="iot-environments")


def read_record(ssm: SSMClient, stage: str) -> DeploymentRecord:
    """The stage's record; a RecordError says why there is none to read."""
    parameter = observability.deployment_record_parameter(stage)
    try:
        value = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            raise RecordError(
                f"no record: {parameter} does not exist (no pipeline run has finished the stage)"
            ) from None
        raise RecordError(f"{parameter} cannot be read: {error}") from None
    record = DeploymentRecord.from_json(value)
    if record.stage != stage:
        raise RecordError(f"{parameter} holds the record of stage {record.stage}")
    return record


# --- git --------------------------------------------------------------------------------------------------------------


class Git:
    def __init__(self, repository: Path) -> None:
        self.repository = repository

    def _run(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - git with fixed verbs and commit ids we validated
            ["git", "-C", str(self.repository), *arguments],  # noqa: S607 - git from PATH, as a developer runs it
            capture_output=True,
            text=True,
            check=False,
        )

    def resolve(self, ref: str) -> str | None:
        found = self._run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        return found.stdout.strip() if found.returncode == 0 else None

    def behind(self, commit: str, main: str) -> str:
        """How many commits of ``main`` the deployed ``commit`` lacks, or why that cannot be told."""
        ancestor = self._run("merge-base", "--is-ancestor", commit, main)
        if ancestor.returncode == _GIT_UNKNOWN_COMMIT:
            return "commit unknown here (git fetch)"
        if ancestor.returncode != 0:
            return f"not on {main}"
        count = int(self._run("rev-list", "--count", f"{commit}..{main}").stdout)
        return "up to date" if count == 0 else f"{count} commit{'s' if count != 1 else ''}"


# --- the comparison ---------------------------------------------------------------------------------------------------


def by_parameter_name(template: dict[str, Any]) -> dict[str, Any]:
    """The template with each reference to an SSM-typed template parameter written as the parameter it reads
    (``{"Ref": "ssm:/iot/dev/ingest/stream-name"}``): CDK names those template parameters after a hash of that name,
    so two stages' templates would differ wherever one is used, though each reads its own stage's value."""
    names = {
        logical_id: f"ssm:{parameter['Default']}"
        for logical_id, parameter in template.get("Parameters", {}).items()
        if str(parameter.get("Type", "")).startswith("AWS::SSM::Parameter::Value") and "Default" in parameter
    }

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Ref"} and node["Ref"] in names:
                return {"Ref": names[node["Ref"]]}
            return {key: rewrite(value) for key, value in node.items()}
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    rewritten: dict[str, Any] = rewrite(template)
    return rewritten


def as_stage(
    templates: Mapping[str, dict[str, Any]], *, source: StageConfig, target: StageConfig
) -> dict[str, dict[str, Any]]:
    """``source``'s templates as ``target`` would run them: stack names, the stage's name in resource names and ARNs
    (a whole word: ``dev`` in ``iot-dev-ingest``, not in ``device``), and the account id, replaced by ``target``'s."""
    name = re.compile(rf"(?<![A-Za-z0-9]){re.escape(source.name)}(?![A-Za-z0-9])")
    title = re.compile(rf"(?<![A-Za-z0-9]){re.escape(source.name.title())}(?![A-Za-z0-9])")
    moved = {}
    for stack, template in templates.items():
        text = json.dumps(template).replace(source.account, target.account)
        text = title.sub(target.name.title(), name.sub(target.name, text))
        moved[name.sub(target.name, stack)] = json.loads(text)
    return moved


_HASH_SUFFIX = re.compile(r"[0-9A-Fa-f]{8,}$")


def aligned(
    after: dict[str, Any], before: dict[str, Any], *, source: StageConfig, target: StageConfig
) -> dict[str, Any]:
    """``after`` (a stack of ``source`` read as ``target``'s) with the logical ids that differ from ``before``'s only by
    the stage renamed to ``before``'s. CDK derives a logical id from the construct's path, stage included, and ends it
    with a hash of that path (or, for a function's version, of its settings, tags included): ``...RuleDevObservability
    ...71C4BAEA`` in dev is ``...RuleStagingObservability...85641D1F`` in staging. Without the stage and the hash, and
    with the same type, the one resource of each side is the same resource."""

    def identity(logical_id: str, stage: StageConfig) -> str:
        return _HASH_SUFFIX.sub("", logical_id.replace(stage.name.title(), ""))

    old, new = before.get("Resources", {}), after.get("Resources", {})
    candidates: dict[tuple[str, str], list[str]] = {}
    for logical_id in set(old) - set(new):
        candidates.setdefault((old[logical_id]["Type"], identity(logical_id, target)), []).append(logical_id)
    keys: dict[tuple[str, str], list[str]] = {}
    for logical_id in set(new) - set(old):
        keys.setdefault((new[logical_id]["Type"], identity(logical_id, source)), []).append(logical_id)
    renames = {
        ids[0]: candidates[key][0] for key, ids in keys.items() if len(ids) == 1 and len(candidates.get(key, [])) == 1
    }
    text = json.dumps(after)
    for logical_id, renamed in renames.items():
        text = re.sub(rf"(?<![A-Za-z0-9]){logical_id}(?![A-Za-z0-9])", renamed, text)
    aligned_template: dict[str, Any] = json.loads(text)
    return aligned_template


def promotion_report(
    runs: Mapping[str, StageRun], sessions: Mapping[str, boto3.Session], *, source: StageConfig, target: StageConfig
) -> str:
    templates = {}
    for stage in (source, target):
        cloudformation = sessions[stage.name].client("cloudformation", region_name=stage.region)
        templates[stage.name] = deployed_templates(cloudformation, observability.drift_checked_stacks(stage.name))
    before = {name: by_parameter_name(template) for name, template in templates[target.name].items()}
    after = as_stage(
        {name: by_parameter_name(template) for name, template in templates[source.name].items()},
        source=source,
        target=target,
    )
    after = {
        name: aligned(template, before[name], source=source, target=target) if name in before else template
        for name, template in after.items()
    }
    report = compare(before, after, ReplacementSpec.load())
    return render_markdown(
        report,
        before_label=f"{target.name} ({_short(runs[target.name])})",
        after_label=f"{source.name}'s templates in {target.name} ({_short(runs[source.name])})",
    )


def _short(run: StageRun) -> str:
    return run.record.commit[:7] if run.record else "no record"


# --- output -----------------------------------------------------------------------------------------------------------


def render_table(runs: Sequence[StageRun], *, main: str, main_commit: str) -> str:
    rows = [("stage", "commit", "behind main", "deployed (UTC)", "pipeline execution", "assembly")]
    for run in runs:
        if run.record is None:
            rows.append((run.stage, "-", "-", "-", "-", "-"))
            continue
        record = run.record
        deployed = record.recorded_at.astimezone(UTC)
        rows.append(
            (
                run.stage,
                record.commit[:12],
                run.behind,
                f"{deployed:%Y-%m-%d %H:%M:%S}",
                record.pipeline_execution_id,
                record.assembly_digest[: len("sha256:") + 12],
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [f"What runs where ({main} is {main_commit[:12]})", ""]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    problems = [f"{run.stage}: {run.problem}" for run in runs if run.problem]
    if problems:
        lines += ["", *problems]
    return "\n".join(lines) + "\n"


# --- command line -----------------------------------------------------------------------------------------------------


def _assignment(raw: str) -> tuple[str, str]:
    stage, sep, value = raw.partition("=")
    if not sep or not stage or not value:
        raise argparse.ArgumentTypeError(f"must be STAGE=VALUE, got {raw!r}")
    return stage, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.operations.environments",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("stages", nargs="*", metavar="STAGE", help="none: every stage; two: SOURCE TARGET, compared")
    parser.add_argument("--main", default="origin/main", help="the branch to count from (default origin/main)")
    parser.add_argument("--repository", type=Path, default=Path(), help="the git clone to count in (default: here)")
    parser.add_argument("--profile", type=_assignment, action="append", default=[], help="STAGE=PROFILE, repeatable")
    parser.add_argument("--role-arn", type=_assignment, action="append", default=[], help="STAGE=ARN, repeatable")
    return parser


def main(
    argv: list[str] | None = None,
    *,
    config: PlatformConfig | None = None,
    session: SessionFactory = stage_session,
) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if len(args.stages) not in (0, 2):
        parser.error(f"name no stage (all of them) or two (SOURCE TARGET), got {len(args.stages)}: {args.stages}")
    try:
        platform = config or load_platform_config(committed_context())
        stages = [platform.stage(name) for name in args.stages] or list(platform.stages)
        for name, _ in (*args.profile, *args.role_arn):
            platform.stage(name)
    except ConfigError as error:
        parser.error(str(error))
    if len(stages) == 2 and stages[0] == stages[1]:
        parser.error(f"SOURCE and TARGET are both {stages[0].name}")
    git = Git(args.repository)
    main_commit = None if args.main.startswith("-") else git.resolve(args.main)
    if main_commit is None:
        parser.error(f"--main: {args.main} is not a commit in {args.repository.resolve()} (git fetch?)")
    profiles, roles = dict(args.profile), dict(args.role_arn)
    sessions = {
        stage.name: session(StageAccess(stage=stage, role_arn=roles.get(stage.name), profile=profiles.get(stage.name)))
        for stage in stages
    }
    runs = {stage.name: _run(stage, sessions[stage.name], git, args.main) for stage in stages}
    print(render_table(list(runs.values()), main=args.main, main_commit=main_commit), end="")
    if len(stages) == 2:
        source, target = stages
        try:
            print("\n" + promotion_report(runs, sessions, source=source, target=target), end="")
        except (BotoCoreError, ClientError) as error:
            print(
                f"error: cannot read the deployed templates of {source.name} and {target.name}: {error}",
                file=sys.stderr,
            )
            return 1
    return 1 if any(run.problem for run in runs.values()) else 0


def _run(stage: StageConfig, session: boto3.Session, git: Git, main: str) -> StageRun:
    try:
        record = read_record(session.client("ssm", region_name=stage.region), stage.name)
    except (RecordError, BotoCoreError) as error:
        return StageRun(stage=stage.name, record=None, problem=str(error))
    return StageRun(stage=stage.name, record=record, behind=git.behind(record.commit, main))


if __name__ == "__main__":
    sys.exit(main())
