"""The pipeline synthesized from a tree, run action by action on the emulator, in CodePipeline's order.

What each kind of action does here, and how far that is AWS's own behaviour, is ADR 0016's table. In short:
- Source: the tree (a commit, or the working tree) checked out afresh for every build; its commit is CommitId.
- Synth: the step's commands in a checkout, or (``reuse_assembly``) the assembly cached for this tree's content.
- Self-mutation: the pipeline stack deployed into the tooling account by change set, through its deploy role;
  the resource types the emulator does not create are reported.
- Assets and CodeBuild steps: the buildspec's commands with the project's variables, the action's variables resolved
  from the deployed stacks' outputs, and credentials of the project's role in the tooling account.
- Deploys: the CloudFormation actions' configuration (stack, change set, template, capabilities, roles): a change set
  created through the target account's deploy role, then executed.
- Approvals: ``approve`` decides, shown the last change report.
While a stage's steps run, its data path runs (the local event source mapping, function and Firehose), in its account.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from shared.repository import REPO_ROOT
from tools.local.deploy import DeployedStack, DeployedStage, created_stack, prepare_template
from tools.local.emulator import Emulator
from tools.local.run import LocalPlatform
from tools.rehearsal.accounts import Accounts, credentials_of, rehearsal_session, session_of
from tools.rehearsal.codebuild import run_build
from tools.rehearsal.pipeline import Action, ActionKind, Pipeline, read_pipeline
from tools.rehearsal.source import Source
from tools.steps.smoke_mqtt import TOPIC_VARIABLE as MQTT_TOPIC_VARIABLE

ASSEMBLY_CACHE = REPO_ROOT / "build" / "rehearsal" / "assemblies"
PARTITION = "aws"


class ActionFailedError(RuntimeError):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(f"{outcome.label} failed: {outcome.detail}")
        self.outcome = outcome


@dataclass(frozen=True, kw_only=True)
class Outcome:
    label: str
    seconds: float
    result: str  # passed, failed, approved, rejected, not rehearsed
    detail: str = ""
    output: str = ""


@dataclass(kw_only=True)
class Overrides:
    """What the rehearsal shortens, said in its summary: minutes of a bake, the alarms' periods (the local evaluator's
    override, ADR 0015), the archive's buffer."""

    bake_minutes: float = 0.1
    alarm_period_seconds: int = 2
    archive_buffer_seconds: int = 2

    def variables(self) -> dict[str, str]:
        return {"BAKE_MINUTES": f"{self.bake_minutes:g}"}


@dataclass(kw_only=True)
class Round:
    source: Source
    pipeline: Pipeline | None = None
    assembly: Path | None = None
    variables: dict[str, dict[str, str]] = field(default_factory=dict)  # namespace -> name -> value
    outcomes: list[Outcome] = field(default_factory=list)
    change_report: str = ""


class Rehearsal:
    def __init__(
        self,
        *,
        emulator: Emulator,
        accounts: Accounts,
        workdir: Path,
        approve: Callable[[str, str], bool],
        reuse_assembly: bool,
        overrides: Overrides,
        log: Callable[[str], None] = print,
    ) -> None:
        self._emulator = emulator
        self._accounts = accounts
        self._workdir = workdir
        self._approve = approve
        self._reuse = reuse_assembly
        self._overrides = overrides
        self._log = log
        self._deployed: dict[str, DeployedStack] = {}  # by stack name
        self._tooling_roles: dict[str, str] = {}  # pipeline stack logical id -> role name

    def run(self, source: Source) -> Round:
        """Every action of the pipeline for ``source``; raises ActionFailedError at the first that fails."""
        state = Round(source=source)
        state.pipeline = read_pipeline(self._assembly_for(source, synthesize_commands=False))
        with self._stage_data_paths() as attach:
            for stage, _, actions in state.pipeline.rounds():
                for action in actions:
                    outcome = self._timed(action, state)
                    state.outcomes.append(outcome)
                    self._log(f"  {outcome.label:<44} {outcome.seconds:7.1f} s  {outcome.result}")
                    if outcome.result in ("failed", "rejected"):
                        raise ActionFailedError(outcome)
                attach(stage, self._stage_stacks(stage, state.pipeline))
        return state

    # --- actions ------------------------------------------------------------------------------------------------

    def _timed(self, action: Action, state: Round) -> Outcome:
        started = time.monotonic()
        result, detail, output = self._act(action, state)
        return Outcome(
            label=action.label, seconds=time.monotonic() - started, result=result, detail=detail, output=output
        )

    def _act(self, action: Action, state: Round) -> tuple[str, str, str]:
        assert state.pipeline is not None
        if action.kind is ActionKind.SOURCE:
            state.variables[action.namespace or action.name] = {"CommitId": state.source.commit}
            return "passed", f"commit {state.source.commit[:12]}", ""
        if action.kind is ActionKind.APPROVAL:
            approved = self._approve(action.label, state.change_report)
            return ("approved" if approved else "rejected"), "", ""
        if action.kind is ActionKind.CHANGE_SET_REPLACE:
            return self._prepare(action, state)
        if action.kind is ActionKind.CHANGE_SET_EXECUTE:
            return self._execute(action, state)
        return self._build(action, state)

    def _build(self, action: Action, state: Round) -> tuple[str, str, str]:
        assert action.project is not None
        assert state.pipeline is not None
        project = action.project
        if action.stage == "Build":  # the synth step: its output is the assembly every later action reads
            state.assembly = self._assembly_for(state.source, synthesize_commands=not self._reuse, project=action)
            state.pipeline = read_pipeline(state.assembly)
            return "passed", f"assembly {state.assembly}", ""
        self_mutation = _deploy_command(project.commands.get("build", []))
        if self_mutation is not None:
            return self._self_mutate(self_mutation, state)
        if "ExportedVariables" in json.dumps(project.exported_variables) or "SecurityCheck" in project.logical_id:
            return (
                "not rehearsed",
                "CDK Pipelines' permission check (cdk diff --security-only, then the AWS CLI) is not rehearsed",
                "",
            )
        directory = self._build_directory(action, state)
        role = self._tooling_roles.get(project.role_logical_id)
        if role is None:
            return "failed", f"the project's role {project.role_logical_id} is not deployed in the tooling account", ""
        credentials = credentials_of(
            f"arn:aws:iam::{self._accounts.tooling}:role/{role}",
            session_name=f"codebuild-{action.name}"[:64],
            via=rehearsal_session(self._accounts.tooling, self._accounts.region),
        )
        environment = {
            **project.variables,
            **{name: value for name, value in action.plain_action_variables().items() if not name.startswith("_")},
            **self._resolved(action, state),
            **credentials,
            "AWS_ENDPOINT_URL": self._emulator.endpoint,
            "AWS_REGION": project.variables.get("AWS_DEFAULT_REGION", self._accounts.region),
            "PYTHONPATH": str(directory),
            **({"CODEBUILD_SRC_DIR_Synth_Output": str(state.assembly)} if state.assembly else {}),
        }
        if "BAKE_MINUTES" in project.variables:
            environment.update(self._overrides.variables())
        # IoT Core's rule engine is not emulated: the smoke test's MQTT leg is left out, as where a stage has none.
        environment.pop(MQTT_TOPIC_VARIABLE, None)
        result = run_build(project, directory=directory, environment=environment)
        if action.name == "ChangeReport":
            reports = list(directory.glob(f"{project.output_directory or 'reports'}/*.md"))
            state.change_report = reports[0].read_text(encoding="utf-8") if reports else result.output
        if result.exit_code != 0:
            return "failed", f"exit code {result.exit_code} at: {result.failed_command}", result.output
        return "passed", "", result.output

    def _build_directory(self, action: Action, state: Round) -> Path:
        """A fresh checkout for a build that reads the source; the assembly for one that reads only synth's output."""
        if action.stage == "Assets":
            assert state.assembly is not None
            return state.assembly
        return state.source.checkout(self._workdir / f"{action.name}-{uuid.uuid4().hex[:8]}")

    def _resolved(self, action: Action, state: Round) -> dict[str, str]:
        """The action's variables as CodePipeline resolves them: from the namespaces earlier actions filled."""
        found: dict[str, str] = {}
        for name, (namespace, variable) in action.variable_references().items():
            if namespace == "codepipeline" and variable == "PipelineExecutionId":
                found[name] = f"rehearsal-{state.source.commit[:12]}"
                continue
            values = state.variables.get(namespace)
            if values is None or variable not in values:
                raise ActionFailedError(
                    Outcome(
                        label=action.label,
                        seconds=0.0,
                        result="failed",
                        detail=f"variable {name} refers to #{{{namespace}.{variable}}}, which no earlier action "
                        f"produced (known in {namespace}: {sorted(values or {})})",
                    )
                )
            found[name] = values[variable]
        return found

    # --- deploys ------------------------------------------------------------------------------------------------

    def _prepare(self, action: Action, state: Round) -> tuple[str, str, str]:
        assert state.assembly is not None
        configuration = action.configuration
        artifact, _, path = str(configuration["TemplatePath"]).partition("::")
        template = json.loads((state.assembly / path).read_text(encoding="utf-8"))
        account = _account_of(_arn(action.role_arn))
        cloudformation = self._deploy_session(action).client("cloudformation")
        stack_name = str(configuration["StackName"])
        exists = _stack_exists(cloudformation, stack_name)
        with _default_session(rehearsal_session(account, self._accounts.region)):  # secrets the deploy creates
            body = prepare_template(
                template, account=account, region=self._accounts.region, modelled_types=self._emulator.modelled_types
            )
        cloudformation.create_change_set(
            StackName=stack_name,
            ChangeSetName=str(configuration["ChangeSetName"]),
            ChangeSetType="UPDATE" if exists else "CREATE",
            TemplateBody=json.dumps(body),
            Capabilities=str(configuration.get("Capabilities", "")).split(","),  # type: ignore[arg-type]
            RoleARN=_arn(configuration["RoleArn"]),
        )
        described = cloudformation.describe_change_set(
            StackName=stack_name, ChangeSetName=str(configuration["ChangeSetName"])
        )
        self._pending = getattr(self, "_pending", {})
        self._pending[stack_name] = template
        changes = len(described.get("Changes", []))
        if described["Status"] == "FAILED":
            return "passed", f"no changes ({described.get('StatusReason', '')})", ""
        return "passed", f"{'update' if exists else 'create'}: {changes} changes ({artifact})", ""

    def _execute(self, action: Action, state: Round) -> tuple[str, str, str]:
        configuration = action.configuration
        stack_name = str(configuration["StackName"])
        account = _account_of(_arn(action.role_arn))
        cloudformation = self._deploy_session(action).client("cloudformation")
        change_set = cloudformation.describe_change_set(
            StackName=stack_name, ChangeSetName=str(configuration["ChangeSetName"])
        )
        if change_set["ExecutionStatus"] == "AVAILABLE":
            cloudformation.execute_change_set(StackName=stack_name, ChangeSetName=str(configuration["ChangeSetName"]))
        with _default_session(rehearsal_session(account, self._accounts.region)):
            deployed = created_stack(
                rehearsal_session(account, self._accounts.region).client("cloudformation"),
                stack_name,
                self._pending.pop(stack_name),
            )
        self._deployed[stack_name] = deployed
        if action.namespace:
            state.variables[action.namespace] = dict(deployed.outputs)
        return "passed", f"{stack_name}: {len(deployed.outputs)} outputs", ""

    def _self_mutate(self, stack_id: str, state: Round) -> tuple[str, str, str]:
        assert state.assembly is not None
        manifest = json.loads((state.assembly / "manifest.json").read_text(encoding="utf-8"))
        artifact = manifest["artifacts"][stack_id]["properties"]
        template = json.loads((state.assembly / artifact["templateFile"]).read_text(encoding="utf-8"))
        stack_name = str(artifact.get("stackName", stack_id))
        tooling = self._accounts.tooling
        deploy_role = artifact["assumeRoleArn"].replace("${AWS::Partition}", PARTITION)
        session = session_of(
            credentials_of(
                deploy_role, session_name="self-mutation", via=rehearsal_session(tooling, self._accounts.region)
            ),
            self._accounts.region,
        )
        cloudformation = session.client("cloudformation")
        with _default_session(rehearsal_session(tooling, self._accounts.region)):
            body = prepare_template(
                template, account=tooling, region=self._accounts.region, modelled_types=self._emulator.modelled_types
            )
        exists = _stack_exists(cloudformation, stack_name)
        cloudformation.create_change_set(
            StackName=stack_name,
            ChangeSetName="SelfMutation",
            ChangeSetType="UPDATE" if exists else "CREATE",
            TemplateBody=json.dumps(body),
            Capabilities=["CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            RoleARN=artifact["cloudFormationExecutionRoleArn"].replace("${AWS::Partition}", PARTITION),
        )
        if cloudformation.describe_change_set(StackName=stack_name, ChangeSetName="SelfMutation")["Status"] != "FAILED":
            cloudformation.execute_change_set(StackName=stack_name, ChangeSetName="SelfMutation")
        else:
            cloudformation.delete_change_set(StackName=stack_name, ChangeSetName="SelfMutation")
        resources = (
            rehearsal_session(tooling, self._accounts.region)
            .client("cloudformation")
            .describe_stack_resources(StackName=stack_name)["StackResources"]
        )
        self._tooling_roles = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in resources
            if r.get("ResourceType") == "AWS::IAM::Role"
        }
        skipped = sorted(
            {r["Type"] for r in template["Resources"].values()} - self._emulator.modelled_types - {"AWS::CDK::Metadata"}
        )
        return "passed", f"{stack_name} in {tooling}; not created by the emulator: {', '.join(skipped)}", ""

    def _deploy_session(self, action: Action) -> boto3.Session:
        """The action's role (the target account's deploy role), assumed as CodePipeline's pipeline role does."""
        role = _arn(action.role_arn)
        via = rehearsal_session(self._accounts.tooling, self._accounts.region)
        return session_of(
            credentials_of(role, session_name=f"deploy-{action.name}"[:64], via=via), self._accounts.region
        )

    # --- assemblies and data paths -------------------------------------------------------------------------------

    def _assembly_for(self, source: Source, *, synthesize_commands: bool, project: Action | None = None) -> Path:
        """The cloud assembly of ``source``: cached by the digest of its content; made by the Synth step's own
        commands when ``synthesize_commands`` (or nothing is cached), else by ``cdk synth`` alone."""
        checkout = source.checkout(self._workdir / f"synth-{uuid.uuid4().hex[:8]}")
        cached = ASSEMBLY_CACHE / _tree_digest(checkout)
        if (cached / "manifest.json").is_file() and not synthesize_commands:
            return cached
        if synthesize_commands and project is not None and project.project is not None:
            result = run_build(project.project, directory=checkout, environment={"PYTHONPATH": str(checkout)})
            if result.exit_code != 0:
                raise ActionFailedError(
                    Outcome(
                        label=project.label,
                        seconds=result.seconds,
                        result="failed",
                        detail=f"exit code {result.exit_code} at: {result.failed_command}",
                        output=result.output,
                    )
                )
            output = checkout / (project.project.output_directory or "cdk.out")
        else:
            output = checkout / "cdk.out"
            synth = run_build_synth(checkout)
            if synth is not None:
                raise ActionFailedError(Outcome(label="Build/Synth", seconds=0.0, result="failed", detail=synth))
        ASSEMBLY_CACHE.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(cached, ignore_errors=True)
        shutil.copytree(output, cached, symlinks=False)
        return cached

    def _stage_stacks(self, stage: str, pipeline: Pipeline) -> list[DeployedStack]:
        names = [
            str(a.configuration["StackName"])
            for a in pipeline.actions
            if a.stage == stage and a.kind is ActionKind.CHANGE_SET_EXECUTE
        ]
        return [self._deployed[name] for name in names if name in self._deployed]

    @contextlib.contextmanager
    def _stage_data_paths(self) -> Iterator[Callable[[str, list[DeployedStack]], None]]:
        """Attach a stage's data path once its stacks are deployed; keep the last one running to the end of the
        stage's steps, detach it before the next stage's."""
        attached: list[tuple[LocalPlatform, contextlib.ExitStack]] = []

        def attach(stage: str, stacks: list[DeployedStack]) -> None:
            del stage
            if len(stacks) < 3 or (attached and attached[-1][0].deployed.stacks["ingest"] is stacks[0]):
                return
            detach()
            account = _account_of(stacks[0].outputs.get("StreamArn", "arn:aws:kinesis:r:000000000000:stream/x"))
            scope = contextlib.ExitStack()
            scope.enter_context(_default_session(rehearsal_session(account, self._accounts.region), environment=True))
            stage_deployed = DeployedStage(
                stacks=dict(zip(("ingest", "archive", "observability"), stacks, strict=True))
            )
            platform = LocalPlatform(
                stage_deployed,
                emulator=self._emulator,
                log_path=self._workdir / f"data-path-{account}.log",
                faults=None,
                account=account,
                archive_buffer_seconds=self._overrides.archive_buffer_seconds,
                alarm_period_seconds=self._overrides.alarm_period_seconds,
            )
            attached.append((platform, scope))

        def detach() -> None:
            while attached:
                platform, scope = attached.pop()
                platform.close()
                scope.close()

        try:
            yield attach
        finally:
            detach()


def run_build_synth(checkout: Path) -> str | None:
    """``cdk synth`` of a checkout with the locked CLI; why it failed, or None."""
    import subprocess  # noqa: PLC0415

    result = subprocess.run(  # noqa: S603 - the locked CLI
        [str(REPO_ROOT / "node_modules" / ".bin" / "cdk"), "--no-notices", "synth", "--quiet", "--output", "cdk.out"],
        cwd=checkout,
        env={**os.environ, "PYTHONPATH": str(checkout)},
        capture_output=True,
        text=True,
        check=False,
    )
    return None if result.returncode == 0 else f"cdk synth failed ({result.returncode}): {result.stderr[-2000:]}"


def _tree_digest(checkout: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in checkout.rglob("*") if p.is_file() and not _installed(p, checkout)):
        digest.update(str(path.relative_to(checkout)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


def _installed(path: Path, checkout: Path) -> bool:
    return path.relative_to(checkout).parts[0] in (".venv", "node_modules", "cdk.out")


def _deploy_command(commands: list[str]) -> str | None:
    """The stack a self-mutation deploys (``cdk -a <assembly> deploy <stack> ...``), or None for another build."""
    for command in commands:
        words = command.split()
        if words[:1] == ["cdk"] and "deploy" in words:
            return words[words.index("deploy") + 1]
    return None


def _arn(value: Any) -> str:
    """A role ARN as synthesized: a literal, or joined around the partition."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(PARTITION if part == {"Ref": "AWS::Partition"} else str(part) for part in parts)
    raise ValueError(f"cannot read a role ARN from {value!r}")


def _account_of(arn: str) -> str:
    return arn.split(":")[4]


def _stack_exists(cloudformation: Any, name: str) -> bool:
    try:
        status = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    except cloudformation.exceptions.ClientError:
        return False
    return str(status) != "REVIEW_IN_PROGRESS"


@contextlib.contextmanager
def _default_session(session: boto3.Session, *, environment: bool = False) -> Iterator[None]:
    """boto3's default session (and, with ``environment``, the process's credentials, which the data path's worker
    processes inherit) in ``session``'s account for a while."""
    previous = boto3.DEFAULT_SESSION
    saved = {name: os.environ.get(name) for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
    boto3.DEFAULT_SESSION = session
    if environment:
        credentials = session.get_credentials()
        assert credentials is not None
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": credentials.access_key,
                "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
                "AWS_SESSION_TOKEN": credentials.token or "",
            }
        )
    try:
        yield
    finally:
        boto3.DEFAULT_SESSION = previous
        if environment:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def work_directory() -> Path:
    root = REPO_ROOT / "build" / "rehearsal"
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="run-", dir=root))


def summary(rounds: list[Round]) -> str:
    lines = [f"{'action':<48}{'seconds':>9}  result"]
    for number, state in enumerate(rounds, start=1):
        lines.append(f"-- round {number}: {state.source.ref or 'working tree'} ({state.source.commit[:12]})")
        lines.extend(
            f"{o.label:<48}{o.seconds:9.1f}  {o.result}{': ' + o.detail if o.detail else ''}" for o in state.outcomes
        )
    return "\n".join(lines)
