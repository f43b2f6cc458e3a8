"""The pipeline synthesized from a tree, run action by action on the emulator, in CodePipeline's order.

What each kind of action does here, and how far that is AWS's own behaviour, is ADR 0017's table. In short:
- Source: the tree (a commit, or the working tree) checked out afresh for every build; its commit is CommitId.
- Synth: the step's commands in a checkout, or (``reuse_assembly``) the assembly cached for this tree's content.
- Self-mutation: the pipeline stack deployed into the tooling account by change set, through its deploy role;
  the resource types the emulator does not create are reported.
- Assets and CodeBuild steps: the buildspec's commands with the project's variables, the action's variables resolved
  from the deployed stacks' outputs, and credentials of the project's role in the tooling account.
- Deploys: the CloudFormation actions' configuration (stack, change set, template, capabilities, roles): the
  pipeline's role assumes the target account's deploy role, which creates the change set, then executes it.
- Approvals: ``approve`` decides, shown the last change report.
After each action, every call its identities made is evaluated against their policies (privileges.py): a call they
do not allow fails the action. Once a stage's stacks are deployed, its data path runs (the local event source
mapping, function and Firehose, and the alarm evaluator) in its account until the next stage's is attached.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import boto3

from shared.infra.naming import stack_name
from shared.repository import REPO_ROOT
from tools.common.aws_session import credentials_environment, session_for
from tools.local.deploy import DeployedStack, DeployedStage, created_stack, prepare_template
from tools.local.emulator import Emulator, embedded_aws
from tools.local.run import SERVICES, LocalPlatform
from tools.rehearsal.accounts import REHEARSAL_ROLE, Accounts, bootstrap, rehearsal_session
from tools.rehearsal.calls import read_calls
from tools.rehearsal.codebuild import run_build
from tools.rehearsal.pipeline import PARTITION, Action, ActionKind, Pipeline, literal_arn, read_pipeline
from tools.rehearsal.privileges import LeastPrivilege, PolicySimulator, bucket_policies, role_policies
from tools.rehearsal.source import Source
from tools.steps.smoke_mqtt import TOPIC_VARIABLE as MQTT_TOPIC_VARIABLE

ASSEMBLY_CACHE = REPO_ROOT / "build" / "rehearsal" / "assemblies"
FAILED, REJECTED = "failed", "rejected"


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
    pipeline: Pipeline
    assembly: Path | None = None
    variables: dict[str, dict[str, str]] = field(default_factory=dict)  # namespace -> name -> value
    outcomes: list[Outcome] = field(default_factory=list)
    change_report: str = ""
    change_sets: dict[str, str] = field(default_factory=dict)  # stack -> CREATE or UPDATE, as the deploys made them


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
        simulator: PolicySimulator,
        call_log: Path,
        log: Callable[[str], None] = print,
    ) -> None:
        self._emulator = emulator
        self._accounts = accounts
        self._workdir = workdir
        self._approve = approve
        self._reuse = reuse_assembly
        self._overrides = overrides
        self._privileges = LeastPrivilege(
            simulator=simulator,
            region=accounts.region,
            policies_of=role_policies(self.session),
            bucket_policy_of=bucket_policies(self.session),
            evaluated=lambda call: not str(call.role_arn).endswith(f":role/{REHEARSAL_ROLE}"),
        )
        self._call_log = call_log
        self._calls_read = 0  # bytes of the call log already evaluated
        self._log = log
        self._sessions: dict[str, boto3.Session] = {}  # the rehearsal's own, by account
        self._deployed: dict[str, DeployedStack] = {}  # by stack name
        self._prepared: dict[str, dict[str, Any]] = {}  # stack name -> the synthesized template its change set holds
        self._tooling_roles: dict[str, str] = {}  # pipeline stack logical id -> role name
        self.rounds: list[Round] = []  # every round run, the one that failed included

    def unused_permissions(self) -> str:
        """Markdown: per role whose calls were evaluated, what its policies allow that no call used."""
        return self._privileges.unused_report()

    def session(self, account: str) -> boto3.Session:
        """The rehearsal's own identity in ``account``."""
        if account not in self._sessions:
            self._sessions[account] = rehearsal_session(account, self._accounts.region)
        return self._sessions[account]

    def run(self, source: Source) -> Round:
        """Every action of the pipeline for ``source``; raises ActionFailedError at the first that fails."""
        started = time.monotonic()
        pipeline = read_pipeline(self._assembly_for(source, synthesize_commands=False))
        self._log(f"  the pipeline, read from a synthesis of the source, in {time.monotonic() - started:.1f} s")
        state = Round(source=source, pipeline=pipeline)
        self.rounds.append(state)
        with DataPaths(
            emulator=self._emulator, workdir=self._workdir, overrides=self._overrides, session=self.session
        ) as data_paths:
            for action in pipeline.actions:
                outcome = self._privileged(self._timed(action, state))
                state.outcomes.append(outcome)
                self._log(f"  {outcome.label:<44} {outcome.seconds:7.1f} s  {outcome.result}")
                if outcome.result in (FAILED, REJECTED):
                    raise ActionFailedError(outcome)
                if _last_deploy_of_its_stage(action, state.pipeline):
                    data_paths.attach(
                        action.stage, self._stage_deployed(action.stage), account=self.stage_account(action.stage)
                    )
        return state

    # --- actions ------------------------------------------------------------------------------------------------

    def _timed(self, action: Action, state: Round) -> Outcome:
        started = time.monotonic()
        try:
            result, detail, output = self._act(action, state)
        except ActionFailedError as error:
            return error.outcome
        return Outcome(
            label=action.label, seconds=time.monotonic() - started, result=result, detail=detail, output=output
        )

    def _privileged(self, outcome: Outcome) -> Outcome:
        """The outcome, failed when a call made during it is not allowed by its identity's policies: in AWS that
        call would have been refused, and the action would have stopped there."""
        calls, self._calls_read = read_calls(self._call_log, offset=self._calls_read)
        denials = self._privileges.check(calls)
        if not denials:
            return outcome
        return Outcome(
            label=outcome.label,
            seconds=outcome.seconds,
            result=FAILED,
            detail="least privilege: " + "; ".join(dict.fromkeys(str(denial) for denial in denials)),
            output=outcome.output,
        )

    def _act(self, action: Action, state: Round) -> tuple[str, str, str]:
        if action.kind is ActionKind.SOURCE:
            state.variables[action.namespace or action.name] = {"CommitId": state.source.commit}
            return "passed", f"commit {state.source.commit[:12]}", ""
        if action.kind is ActionKind.APPROVAL:
            approved = self._approve(action.label, state.change_report)
            return ("approved" if approved else REJECTED), "", ""
        if action.kind is ActionKind.CHANGE_SET_REPLACE:
            return self._prepare(action, state)
        if action.kind is ActionKind.CHANGE_SET_EXECUTE:
            return self._execute(action, state)
        return self._build(action, state)

    def _build(self, action: Action, state: Round) -> tuple[str, str, str]:
        assert action.project is not None
        project = action.project
        if action.stage == "Build":  # the synth step: its output is the assembly every later action reads
            state.assembly = self._assembly_for(state.source, synthesize_commands=not self._reuse, project=action)
            state.pipeline = read_pipeline(state.assembly)
            return "passed", f"assembly {state.assembly}", ""
        self_mutation = _deploy_command(project.commands.get("build", []))
        if self_mutation is not None:
            return self._self_mutate(self_mutation, state)
        if "SecurityCheck" in project.logical_id:
            return (
                "not rehearsed",
                "CDK Pipelines' permission check (cdk diff --security-only, then the AWS CLI) is not rehearsed",
                "",
            )
        if "FaultInjection" in project.logical_id:
            return (
                "not rehearsed",
                "the emulator runs no FIS experiment against the function: make chaos runs the same experiment on the"
                " local platform",
                "",
            )
        role = self._tooling_roles.get(project.role_logical_id)
        if role is None:
            return FAILED, f"the project's role {project.role_logical_id} is not deployed in the tooling account", ""
        directory = self._build_directory(action, state)
        credentials = credentials_environment(
            session_for(
                f"arn:aws:iam::{self._accounts.tooling}:role/{role}",
                session_name=f"codebuild-{action.name}"[:64],
                via=self.session(self._accounts.tooling),
            )
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
        if project.output_directory and action.name == "ChangeReport":
            reports = sorted(directory.glob(f"{project.output_directory}/*.md"))
            state.change_report = reports[0].read_text(encoding="utf-8") if reports else result.output
        if result.exit_code != 0:
            return FAILED, f"exit code {result.exit_code} at: {result.failed_command}", result.output
        if directory != state.assembly:  # a passed build's checkout is of no more use, and each is the whole tree
            shutil.rmtree(directory)
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
                        result=FAILED,
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
        account = literal_arn(action.role_arn).split(":")[4]
        cloudformation = self._action_session(action, state.pipeline).client("cloudformation")
        name = str(configuration["StackName"])
        kind: Literal["CREATE", "UPDATE"] = "UPDATE" if _stack_exists(cloudformation, name) else "CREATE"
        with _default_session(self.session(account)):  # the secrets the deploy creates are the account's
            body = prepare_template(
                template, account=account, region=self._accounts.region, modelled_types=self._emulator.modelled_types
            )
        cloudformation.create_change_set(
            StackName=name,
            ChangeSetName=str(configuration["ChangeSetName"]),
            ChangeSetType=kind,
            TemplateBody=json.dumps(body),
            Capabilities=str(configuration.get("Capabilities", "")).split(","),  # type: ignore[arg-type]
            RoleARN=literal_arn(configuration["RoleArn"]),
        )
        described = cloudformation.describe_change_set(
            StackName=name, ChangeSetName=str(configuration["ChangeSetName"])
        )
        self._prepared[name] = template
        state.change_sets[name] = kind
        if described["Status"] == "FAILED":
            return "passed", f"no changes ({described.get('StatusReason', '')})", ""
        return "passed", f"{kind.lower()}: {len(described.get('Changes', []))} changes ({artifact})", ""

    def _execute(self, action: Action, state: Round) -> tuple[str, str, str]:
        configuration = action.configuration
        name = str(configuration["StackName"])
        if name not in self._prepared:
            return FAILED, f"no change set of {name} was prepared before this action", ""
        account = literal_arn(action.role_arn).split(":")[4]
        cloudformation = self._action_session(action, state.pipeline).client("cloudformation")
        change_set = cloudformation.describe_change_set(
            StackName=name, ChangeSetName=str(configuration["ChangeSetName"])
        )
        if change_set["ExecutionStatus"] == "AVAILABLE":
            cloudformation.execute_change_set(StackName=name, ChangeSetName=str(configuration["ChangeSetName"]))
        with _default_session(self.session(account)):
            deployed = created_stack(
                self.session(account).client("cloudformation"),
                name,
                self._prepared.pop(name),
                account=account,
                region=self._accounts.region,
                created=state.change_sets[name] == "CREATE",  # an update, or one that changed nothing, keeps them
            )
        self._deployed[name] = deployed
        if action.namespace:
            state.variables[action.namespace] = dict(deployed.outputs)
        return "passed", f"{name}: {len(deployed.outputs)} outputs", ""

    def _self_mutate(self, stack_id: str, state: Round) -> tuple[str, str, str]:
        """The pipeline stack deployed by change set through the tooling account's deploy role. On the first round
        it is the first deploy, which in AWS a person makes with ``cdk deploy``."""
        assert state.assembly is not None
        manifest = json.loads((state.assembly / "manifest.json").read_text(encoding="utf-8"))
        artifact = manifest["artifacts"][stack_id]["properties"]
        template = json.loads((state.assembly / artifact["templateFile"]).read_text(encoding="utf-8"))
        name = str(artifact.get("stackName", stack_id))
        tooling = self._accounts.tooling
        deploy_role = artifact["assumeRoleArn"].replace("${AWS::Partition}", PARTITION)
        cloudformation = session_for(deploy_role, session_name="self-mutation", via=self.session(tooling)).client(
            "cloudformation"
        )
        with _default_session(self.session(tooling)):
            body = prepare_template(
                template, account=tooling, region=self._accounts.region, modelled_types=self._emulator.modelled_types
            )
        exists = _stack_exists(cloudformation, name)
        cloudformation.create_change_set(
            StackName=name,
            ChangeSetName="SelfMutation",
            ChangeSetType="UPDATE" if exists else "CREATE",
            TemplateBody=json.dumps(body),
            Capabilities=["CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            RoleARN=artifact["cloudFormationExecutionRoleArn"].replace("${AWS::Partition}", PARTITION),
        )
        if cloudformation.describe_change_set(StackName=name, ChangeSetName="SelfMutation")["Status"] != "FAILED":
            cloudformation.execute_change_set(StackName=name, ChangeSetName="SelfMutation")
        else:  # nothing changed
            cloudformation.delete_change_set(StackName=name, ChangeSetName="SelfMutation")
        resources = self.session(tooling).client("cloudformation").describe_stack_resources(StackName=name)
        self._tooling_roles = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in resources["StackResources"]
            if r.get("ResourceType") == "AWS::IAM::Role"
        }
        skipped = sorted(
            {r["Type"] for r in template["Resources"].values()} - self._emulator.modelled_types - {"AWS::CDK::Metadata"}
        )
        return "passed", f"{name} in {tooling}; not created by the emulator: {', '.join(skipped)}", ""

    def _action_session(self, action: Action, pipeline: Pipeline) -> boto3.Session:
        """The action's role (the target account's deploy role), assumed by the pipeline's own role, as
        CodePipeline assumes it."""
        pipeline_role = self._tooling_roles.get(pipeline.role_logical_id)
        if pipeline_role is None:
            raise ActionFailedError(
                Outcome(
                    label=action.label,
                    seconds=0.0,
                    result=FAILED,
                    detail=f"the pipeline's role {pipeline.role_logical_id} is not deployed in the tooling account",
                )
            )
        codepipeline = session_for(
            f"arn:aws:iam::{self._accounts.tooling}:role/{pipeline_role}",
            session_name="codepipeline",
            via=self.session(self._accounts.tooling),
        )
        return session_for(literal_arn(action.role_arn), session_name=f"deploy-{action.name}"[:64], via=codepipeline)

    # --- assemblies and data paths -------------------------------------------------------------------------------

    def _assembly_for(self, source: Source, *, synthesize_commands: bool, project: Action | None = None) -> Path:
        """The cloud assembly of ``source``: cached by the digest of its content; made by the Synth step's own
        commands when ``synthesize_commands`` (or nothing is cached), else by ``cdk synth`` alone."""
        checkout = source.checkout(self._workdir / f"synth-{uuid.uuid4().hex[:8]}")
        cached = ASSEMBLY_CACHE / _tree_digest(checkout)
        if (cached / "manifest.json").is_file() and not synthesize_commands:
            shutil.rmtree(checkout)
            return cached
        if synthesize_commands and project is not None and project.project is not None:
            result = run_build(project.project, directory=checkout, environment={"PYTHONPATH": str(checkout)})
            if result.exit_code != 0:
                raise ActionFailedError(
                    Outcome(
                        label=project.label,
                        seconds=result.seconds,
                        result=FAILED,
                        detail=f"exit code {result.exit_code} at: {result.failed_command}",
                        output=result.output,
                    )
                )
            output = checkout / (project.project.output_directory or "cdk.out")
        else:
            output = checkout / "cdk.out"
            failure = _synthesize(checkout)
            if failure is not None:
                raise ActionFailedError(Outcome(label="Build/Synth", seconds=0.0, result=FAILED, detail=failure))
        ASSEMBLY_CACHE.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(cached, ignore_errors=True)
        shutil.copytree(output, cached, symlinks=False)
        shutil.rmtree(checkout)
        return cached

    def _stage_deployed(self, stage: str) -> DeployedStage:
        """The stage's stacks as deployed, by service (``iot-dev-ingest`` is the dev stage's ingest stack)."""
        name = stage.lower()
        missing = [stack_name(name, s) for s in SERVICES if stack_name(name, s) not in self._deployed]
        if missing:
            raise ActionFailedError(
                Outcome(
                    label=stage, seconds=0.0, result=FAILED, detail=f"the stage's stacks {missing} are not deployed"
                )
            )
        return DeployedStage(stacks={service: self._deployed[stack_name(name, service)] for service in SERVICES})

    def stage_account(self, stage: str) -> str:
        """The account of a pipeline stage (``Dev``) as cdk.json names it (``dev``)."""
        account = self._accounts.stages.get(stage.lower())
        if account is None:
            raise ActionFailedError(
                Outcome(
                    label=stage,
                    seconds=0.0,
                    result=FAILED,
                    detail=f"the pipeline's stage {stage} is none of cdk.json's: {sorted(self._accounts.stages)}",
                )
            )
        return account


class DataPaths:
    """Each stage's data path attached in the stage's account once its stacks are deployed, detached when the next
    stage's is attached, or at the end: one at a time, as the stages' steps run one stage at a time."""

    def __init__(
        self, *, emulator: Emulator, workdir: Path, overrides: Overrides, session: Callable[[str], boto3.Session]
    ) -> None:
        self._emulator = emulator
        self._workdir = workdir
        self._overrides = overrides
        self._session = session  # the rehearsal's own, in an account
        self._attached: tuple[LocalPlatform, contextlib.ExitStack] | None = None

    def __enter__(self) -> DataPaths:
        return self

    def __exit__(self, *_: object) -> None:
        self.detach()

    def attach(self, stage: str, deployed: DeployedStage, *, account: str) -> None:
        self.detach()
        scope = contextlib.ExitStack()
        # The platform's clients, and its worker processes, act as the rehearsal in the stage's account.
        scope.enter_context(_default_session(self._session(account), environment=True))
        try:
            platform = LocalPlatform(
                deployed,
                emulator=self._emulator,
                log_path=self._workdir / f"data-path-{stage.lower()}.log",
                faults=None,
                account=account,
                archive_buffer_seconds=self._overrides.archive_buffer_seconds,
                alarm_period_seconds=self._overrides.alarm_period_seconds,
            )
        except BaseException:
            scope.close()
            raise
        self._attached = (platform, scope)

    def detach(self) -> None:
        if self._attached is not None:
            platform, scope = self._attached
            self._attached = None
            try:
                platform.close()
            finally:
                scope.close()


def _last_deploy_of_its_stage(action: Action, pipeline: Pipeline) -> bool:
    deploys = [a for a in pipeline.actions if a.stage == action.stage and a.kind is ActionKind.CHANGE_SET_EXECUTE]
    return bool(deploys) and deploys[-1].label == action.label


def _synthesize(checkout: Path) -> str | None:
    """``cdk synth`` of a checkout with the locked CLI; why it failed, or None."""
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
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    saved = {name: os.environ.get(name) for name in names}
    boto3.DEFAULT_SESSION = session
    if environment:
        for name in names:
            os.environ.pop(name, None)
        os.environ.update(credentials_environment(session))
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


@dataclass(frozen=True, kw_only=True)
class Rehearsed:
    rounds: list[Round]
    failure: Outcome | None  # the action that stopped the rehearsal
    unused_permissions: Path  # the report, for the reviewer
    workdir: Path
    seconds: float


def rehearse(
    sources: list[Source],
    *,
    accounts: Accounts,
    approve: Callable[[str, str], bool],
    reuse_assembly: bool,
    overrides: Overrides,
    log: Callable[[str], None] = print,
) -> Rehearsed:
    """Each source rehearsed in turn on one emulator (the second updates what the first deployed), in the four
    accounts bootstrapped first; stops at the first action that fails."""
    started = time.monotonic()
    workdir = work_directory()
    call_log = workdir / "calls.jsonl"
    failure = None
    with embedded_aws(accounts.region, call_log=call_log) as emulator, PolicySimulator() as simulator:
        bootstrap(accounts)
        rehearsal = Rehearsal(
            emulator=emulator,
            accounts=accounts,
            workdir=workdir,
            approve=approve,
            reuse_assembly=reuse_assembly,
            overrides=overrides,
            simulator=simulator,
            call_log=call_log,
            log=log,
        )
        for source in sources:
            log(f"rehearsing {source.ref or 'the working tree'} ({source.commit[:12]})")
            try:
                rehearsal.run(source)
            except ActionFailedError as error:
                failure = error.outcome
                break
        unused = workdir / "unused-permissions.md"
        unused.write_text(rehearsal.unused_permissions(), encoding="utf-8")
    return Rehearsed(
        rounds=rehearsal.rounds,
        failure=failure,
        unused_permissions=unused,
        workdir=workdir,
        seconds=time.monotonic() - started,
    )


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
