"""Deploys a synthesized stage's real templates into the emulator through CloudFormation.

moto's CloudFormation needs three preparations plus one of its quirks:
1. the CDK bootstrap version parameter the templates check;
2. file assets uploaded to the bootstrap bucket the templates point at;
3. references to resource types moto does not model replaced by stand-ins, which it cannot resolve (and the
   types it models too poorly to use, left out of the template);
4. tags of KMS keys and SSM parameters in the shapes moto's parser expects;
5. secrets (which moto's CloudFormation skips) created through the API, so the function can read them;
6. event source mappings left out: moto invokes the function for every record put (in Docker, even when the
   mapping is disabled); the local event source mapping (event_source_mapping.py), configured from this
   template's mapping, takes their place;
7. aliases (which moto's CloudFormation skips) created through the API on the version CloudFormation published,
   so the local mapping invokes the function through its alias, as the deployed mapping does;
8. SNS subscriptions (which moto's CloudFormation skips) created through the API with their attributes (filter
   policy and its scope, raw delivery), so a topic delivers where and what the template says, as the smoke test's
   alert inbox relies on;
9. a table's point-in-time recovery and time to live (which moto's CloudFormation leaves off) set through the API,
   so a restore drill can restore it to a time (the emulator's point-in-time recovery, emulator_server.py);
10. backup vaults with their lock, then plans, then their selections (which moto's CloudFormation skips) created
   through the API from the template's properties, each reference resolved to what was created.
"""

from __future__ import annotations

import copy
import io
import json
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from shared.fault_injection import EXTENSION_LAYER_PARAMETER

BOOTSTRAP_VERSION_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
BOOTSTRAP_VERSION = "30"
# moto creates these with no physical id, and a Ref to one returns the repr of a Python object.
POORLY_MODELLED = frozenset({"AWS::IoT::Policy"})
SYNTHESIZED_TEMPLATE_KEY = "Emulator::SynthesizedTemplate"  # emulator_server.py reads it


@dataclass(frozen=True, kw_only=True)
class DeployedStack:
    name: str
    template: dict[str, Any]  # as synthesized, before preparation: what the local loops are configured from
    outputs: dict[str, str]
    physical_ids: dict[str, str]  # logical id -> physical id, for the resources moto created

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {lid: r for lid, r in self.template["Resources"].items() if r["Type"] == resource_type}


@dataclass
class DeployedStage:
    stacks: dict[str, DeployedStack] = field(default_factory=dict)  # by service: ingest, archive, observability


def deploy_stage(
    assembly_dir: Path, stack_files: dict[str, str], *, account: str, region: str, modelled_types: frozenset[str]
) -> DeployedStage:
    """Create each stack (in the order given) from ``<assembly_dir>/<file>.template.json``.

    ``modelled_types``: the resource types the emulator's CloudFormation creates (the emulator reports them).
    """
    boto3.client("ssm").put_parameter(
        Name=BOOTSTRAP_VERSION_PARAMETER, Value=BOOTSTRAP_VERSION, Type="String", Overwrite=True
    )
    cloudformation = boto3.client("cloudformation")
    deployed = DeployedStage()
    for service, file_stem in stack_files.items():
        template = json.loads((assembly_dir / f"{file_stem}.template.json").read_text())
        _upload_assets(assembly_dir, assembly_dir / f"{file_stem}.assets.json", account=account, region=region)
        stack_name = template_stack_name(assembly_dir, file_stem)
        cloudformation.create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(
                prepare_template(template, account=account, region=region, modelled_types=modelled_types)
            ),
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        )
        deployed.stacks[service] = created_stack(
            cloudformation, stack_name, template, account=account, region=region, created=True
        )
    return deployed


def created_stack(
    cloudformation: Any, stack_name: str, template: dict[str, Any], *, account: str, region: str, created: bool
) -> DeployedStack:
    """A stack CloudFormation has just created (``created``) or updated from ``template`` (as synthesized), completed
    with what moto's CloudFormation skips: aliases and subscriptions on every deploy; the tables' recovery and TTL
    settings and the backup vaults, plans and selections when it was created (an update keeps them as they were)."""
    description = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    status = description["StackStatus"]
    if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        raise RuntimeError(f"{stack_name}: {status} {description.get('StackStatusReason', '')}")
    resources = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    physical_ids = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources if "PhysicalResourceId" in r}
    _create_aliases(template, physical_ids)
    _create_subscriptions(template, physical_ids)
    if created:
        _apply_table_settings(template, physical_ids)
        physical_ids.update(_create_backups(template, physical_ids, account=account, region=region))
    return DeployedStack(
        name=stack_name,
        template=template,
        outputs={o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])},
        physical_ids=physical_ids,
    )


def _create_aliases(template: dict[str, Any], physical_ids: dict[str, str]) -> None:
    """Each alias on the version CloudFormation published last: created, or moved there on an update."""
    lambda_client = boto3.client("lambda")
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Lambda::Alias":
            continue
        properties = resource["Properties"]
        function_name = physical_ids[properties["FunctionName"]["Ref"]]
        versions = lambda_client.list_versions_by_function(FunctionName=function_name)["Versions"]
        published = str(max(int(v["Version"]) for v in versions if v["Version"] != "$LATEST"))
        aliases = lambda_client.list_aliases(FunctionName=function_name)["Aliases"]
        if any(alias["Name"] == properties["Name"] for alias in aliases):
            lambda_client.update_alias(FunctionName=function_name, Name=properties["Name"], FunctionVersion=published)
        else:
            lambda_client.create_alias(FunctionName=function_name, Name=properties["Name"], FunctionVersion=published)


SUBSCRIPTION_ATTRIBUTES = ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy")


def _create_subscriptions(template: dict[str, Any], physical_ids: dict[str, str]) -> None:
    sns = boto3.client("sns")
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::SNS::Subscription":
            continue
        properties = resource["Properties"]
        attributes = {
            name: value if isinstance(value, str) else json.dumps(value)
            for name, value in ((name, properties.get(name)) for name in SUBSCRIPTION_ATTRIBUTES)
            if value is not None
        }
        if "RawMessageDelivery" in attributes:
            attributes["RawMessageDelivery"] = str(properties["RawMessageDelivery"]).lower()
        topic, endpoint = (
            _physical(properties["TopicArn"], physical_ids),
            _physical(properties["Endpoint"], physical_ids),
        )
        existing = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        if any(subscription["Endpoint"] == endpoint for subscription in existing):
            continue  # an update: the subscription CloudFormation would keep
        sns.subscribe(TopicArn=topic, Protocol=properties["Protocol"], Endpoint=endpoint, Attributes=attributes)


def _physical(value: Any, physical_ids: dict[str, str]) -> str:
    """A subscription's topic or endpoint: a literal, a Ref to a resource, or a queue's Arn attribute."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return physical_ids[value["Ref"]]
    logical_id, attribute = value["Fn::GetAtt"]
    if attribute != "Arn":
        raise ValueError(f"a subscription refers to {logical_id}.{attribute}; only Ref and a queue's Arn are known")
    queue_url = physical_ids[logical_id]
    return str(
        boto3.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
    )


def _apply_table_settings(template: dict[str, Any], physical_ids: dict[str, str]) -> None:
    dynamodb = boto3.client("dynamodb")
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::DynamoDB::Table":
            continue
        properties, name = resource["Properties"], physical_ids[logical_id]
        if properties.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
            dynamodb.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        time_to_live = properties.get("TimeToLiveSpecification")
        if time_to_live:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=time_to_live)


BACKUP_TYPES = ("AWS::Backup::BackupVault", "AWS::Backup::BackupPlan", "AWS::Backup::BackupSelection")


def _create_backups(
    template: dict[str, Any], physical_ids: dict[str, str], *, account: str, region: str
) -> dict[str, str]:
    """Every vault (and its lock), plan and selection of the template, in that order; logical id -> what was made
    (the vault's name, the plan's id, the selection's id)."""
    backup = boto3.client("backup")
    created: dict[str, str] = {}
    resources = template["Resources"]
    for resource_type in BACKUP_TYPES:
        for logical_id, resource in resources.items():
            if resource["Type"] != resource_type:
                continue
            properties = _resolved(
                resource["Properties"], resources, {**physical_ids, **created}, account=account, region=region
            )
            if resource_type == "AWS::Backup::BackupVault":
                created[logical_id] = _create_vault(backup, properties)
            elif resource_type == "AWS::Backup::BackupPlan":
                plan = properties["BackupPlan"]
                rules = [_api_rule(rule) for rule in plan["BackupPlanRule"]]
                created[logical_id] = backup.create_backup_plan(
                    BackupPlan={"BackupPlanName": plan["BackupPlanName"], "Rules": rules},
                    BackupPlanTags=properties.get("BackupPlanTags", {}),
                )["BackupPlanId"]
            else:
                created[logical_id] = backup.create_backup_selection(
                    BackupPlanId=properties["BackupPlanId"], BackupSelection=properties["BackupSelection"]
                )["SelectionId"]
    return created


def _create_vault(backup: Any, properties: dict[str, Any]) -> str:
    name = properties["BackupVaultName"]
    backup.create_backup_vault(
        BackupVaultName=name,
        EncryptionKeyArn=properties["EncryptionKeyArn"],
        BackupVaultTags=properties.get("BackupVaultTags", {}),
    )
    lock = properties.get("LockConfiguration")
    if lock:
        backup.put_backup_vault_lock_configuration(BackupVaultName=name, **lock)
    return str(name)


def _api_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A plan's rule as the API takes it: CloudFormation names the vault ``TargetBackupVault``."""
    api_rule = {key: value for key, value in rule.items() if key != "TargetBackupVault"}
    api_rule["TargetBackupVaultName"] = rule["TargetBackupVault"]
    return api_rule


def _resolved(node: Any, resources: dict[str, Any], physical_ids: dict[str, str], **where: str) -> Any:
    """``node`` with each Ref and GetAtt replaced by the value it has in the emulator (``where``: account, region)."""
    if isinstance(node, list):
        return [_resolved(item, resources, physical_ids, **where) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"}:
        return physical_ids[node["Ref"]]
    if set(node) == {"Fn::GetAtt"}:
        logical_id, attribute = node["Fn::GetAtt"]
        return _attribute(resources[logical_id]["Type"], attribute, physical_ids[logical_id], **where)
    return {key: _resolved(value, resources, physical_ids, **where) for key, value in node.items()}


def _attribute(resource_type: str, attribute: str, physical_id: str, *, account: str, region: str) -> str:
    """The ``Arn`` of what a backup refers to (its key, the resources it selects, its role), or a backup's own id.
    ARNs are built as AWS builds them from the physical id (moto cannot describe a key its CloudFormation made)."""
    if resource_type in ("AWS::Backup::BackupVault", "AWS::Backup::BackupPlan") and attribute in (
        "BackupVaultName",
        "BackupPlanId",
    ):
        return physical_id
    arns = {
        "AWS::KMS::Key": f"arn:aws:kms:{region}:{account}:key/{physical_id}",
        "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{region}:{account}:table/{physical_id}",
        "AWS::S3::Bucket": f"arn:aws:s3:::{physical_id}",
        "AWS::IAM::Role": f"arn:aws:iam::{account}:role/{physical_id}",
    }
    if attribute != "Arn" or resource_type not in arns:
        raise ValueError(f"a backup refers to the {attribute} of a {resource_type}, which the local deploy cannot read")
    return arns[resource_type]


def template_stack_name(assembly_dir: Path, file_stem: str) -> str:
    manifest = json.loads((assembly_dir / "manifest.json").read_text())
    properties = manifest["artifacts"][file_stem]["properties"]
    return str(properties.get("stackName", file_stem))


def prepare_template(
    template: dict[str, Any], *, account: str, region: str, modelled_types: frozenset[str]
) -> dict[str, Any]:
    prepared = copy.deepcopy(template)
    modelled = modelled_types - POORLY_MODELLED
    resources = prepared["Resources"]
    # ARN-shaped, because most references end up in IAM policies, which moto validates.
    stand_ins = {
        logical_id: f"arn:aws:{resource['Type'].split('::')[1].lower()}:{region}:{account}:local/{logical_id}"
        for logical_id, resource in resources.items()
        if resource["Type"] not in modelled and resource["Type"] != "AWS::CDK::Metadata"
    }
    stand_ins.update(_public_parameter_stand_ins(prepared, region=region))
    for logical_id in [lid for lid, r in resources.items() if r["Type"] == "AWS::Lambda::EventSourceMapping"]:
        del resources[logical_id]
        stand_ins[logical_id] = f"local-{logical_id}"
    for logical_id in [lid for lid, r in resources.items() if r["Type"] in POORLY_MODELLED]:
        del resources[logical_id]
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::SecretsManager::Secret":
            stand_ins[logical_id] = _create_secret(logical_id, resource.get("Properties", {}))
        tags = resource.get("Properties", {}).get("Tags")
        if resource["Type"] == "AWS::KMS::Key" and tags:
            resource["Properties"]["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in tags]
        if resource["Type"] == "AWS::SSM::Parameter" and isinstance(tags, dict):  # CloudFormation's map shape
            resource["Properties"]["Tags"] = [{"Key": key, "Value": value} for key, value in tags.items()]
    prepared = _replace_references(prepared, stand_ins)
    # What GetTemplate answers, as CloudFormation keeps the template it was given (emulator_server.py).
    prepared.setdefault("Metadata", {})[SYNTHESIZED_TEMPLATE_KEY] = json.dumps(template)
    return prepared  # type: ignore[no-any-return]


def _public_parameter_stand_ins(template: dict[str, Any], *, region: str) -> dict[str, str]:
    """The template's parameters that read AWS's public FIS extension parameter, which the emulator does not hold (its
    ``/aws/`` names are reserved to AWS): each removed, and stood in for by a layer of that name published in the
    account, as AWS publishes the extension's layer (staging's fault injection, shared/fault_injection.py)."""
    parameters = template.get("Parameters", {})
    reading = [
        logical_id
        for logical_id, parameter in parameters.items()
        if parameter.get("Type", "").startswith("AWS::SSM::Parameter::Value")
        and parameter.get("Default") == EXTENSION_LAYER_PARAMETER
    ]
    if not reading:
        return {}
    lambda_client = boto3.client("lambda", region_name=region)
    name = EXTENSION_LAYER_PARAMETER.split("/")[-2]
    published = lambda_client.list_layer_versions(LayerName=name)["LayerVersions"]
    arn = (
        published[0]["LayerVersionArn"]
        if published
        else lambda_client.publish_layer_version(LayerName=name, Content={"ZipFile": _empty_zip()})["LayerVersionArn"]
    )
    for logical_id in reading:
        del parameters[logical_id]
    return dict.fromkeys(reading, str(arn))


def _empty_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w"):
        pass
    return buffer.getvalue()


def _create_secret(logical_id: str, properties: dict[str, Any]) -> str:
    """The secret's initial value as Secrets Manager would generate it from GenerateSecretString."""
    generate = properties.get("GenerateSecretString", {})
    value = json.loads(generate.get("SecretStringTemplate", "{}"))
    if "GenerateStringKey" in generate:
        value[generate["GenerateStringKey"]] = uuid.uuid4().hex
    secrets = boto3.client("secretsmanager")
    name = f"local/{logical_id}"
    try:
        return str(secrets.create_secret(Name=name, SecretString=json.dumps(value))["ARN"])
    except secrets.exceptions.ResourceExistsException:  # an update: the secret CloudFormation would keep
        return str(secrets.describe_secret(SecretId=name)["ARN"])


def _replace_references(node: Any, stand_ins: dict[str, str]) -> Any:
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in stand_ins:
            return stand_ins[node["Ref"]]
        if set(node) == {"Fn::GetAtt"} and node["Fn::GetAtt"][0] in stand_ins:
            return f"{stand_ins[node['Fn::GetAtt'][0]]}-{node['Fn::GetAtt'][1]}"
        if "DependsOn" in node:
            depends = node["DependsOn"] if isinstance(node["DependsOn"], list) else [node["DependsOn"]]
            node = {**node, "DependsOn": [d for d in depends if d not in stand_ins]}
        return {key: _replace_references(value, stand_ins) for key, value in node.items()}
    if isinstance(node, list):
        return [_replace_references(item, stand_ins) for item in node]
    return node


def _upload_assets(assembly_dir: Path, assets_file: Path, *, account: str, region: str) -> None:
    if not assets_file.exists():
        return
    s3 = boto3.client("s3")
    for asset in json.loads(assets_file.read_text()).get("files", {}).values():
        source = assembly_dir / asset["source"]["path"]
        body = _zipped(source) if source.is_dir() else source.read_bytes()
        for destination in asset["destinations"].values():
            bucket = destination["bucketName"].replace("${AWS::AccountId}", account).replace("${AWS::Region}", region)
            if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
                s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})  # type: ignore[typeddict-item]
            s3.put_object(Bucket=bucket, Key=destination["objectKey"], Body=body)


def _zipped(directory: Path) -> bytes:
    """An asset directory as a zip, kept beside it: CDK names an asset directory by a digest of its sources."""
    archive = directory.with_name(f"{directory.name}.zip")
    if not archive.exists():
        staging = directory.with_name(f"{directory.name}.{uuid.uuid4().hex}.zip.tmp")
        staging.write_bytes(_zip_directory(directory))
        staging.rename(archive)
    return archive.read_bytes()


def _zip_directory(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()
