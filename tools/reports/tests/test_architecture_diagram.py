"""The architecture diagram: derived from hand-written templates, its CLI's errors, and docs/architecture.md fresh."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from shared.repository import REPO_ROOT
from shared.testing.templates import arn, objects_in, ref
from tools.common.testing import documented_help, printed_help
from tools.reports.architecture_diagram import (
    DIAGRAM_BEGIN,
    DIAGRAM_END,
    Diagram,
    DiagramError,
    Edge,
    Node,
    StackTemplate,
    build_diagram,
    main,
    render,
    stage_stacks,
    updated_document,
    with_diagram,
)

ARCHITECTURE_DOC = REPO_ROOT / "docs" / "architecture.md"
if TYPE_CHECKING:
    from aws_cdk import App

STAGE_PATH = "App/Dev"
PROCESSOR = "Ingest_Processor_Function"
STREAM = "Ingest_Readings_Stream"


Resource = tuple[str, dict[str, Any]]  # construct path below App/Dev, the template's resource


def resource(resource_type: str, path: str, properties: dict[str, Any] | None = None, **extra: Any) -> Resource:
    return path, {"Type": resource_type, "Properties": properties or {}, **extra}


def stack(construct_id: str, resources: dict[str, Resource], parameters: dict[str, Any] | None = None) -> StackTemplate:
    """A stack as the assembly describes it: its template, and the construct path of each logical id."""
    return StackTemplate(
        construct_path=f"{STAGE_PATH}/{construct_id}",
        title=f"iot-<stage>-{construct_id.lower()}",
        template={
            "Resources": {logical_id: body for logical_id, (_, body) in resources.items()},
            "Parameters": parameters or {},
        },
        construct_paths={logical_id: f"{STAGE_PATH}/{path}" for logical_id, (path, _) in resources.items()},
    )


def processor(**resources: Resource) -> dict[str, Resource]:
    """The ingest resources every edge test starts from: the stream, and the processor running as its role."""
    return {
        "Stream": resource("AWS::Kinesis::Stream", "Ingest/Readings/Stream/Resource"),
        "Role": resource("AWS::IAM::Role", "Ingest/Processor/Role/Resource"),
        "Fn": resource("AWS::Lambda::Function", "Ingest/Processor/Function/Resource", {"Role": arn("Role")}),
        **resources,
    }


def policy(*statements: dict[str, Any], role: str = "Role") -> Resource:
    return resource(
        "AWS::IAM::Policy",
        "Ingest/Processor/Role/DefaultPolicy/Resource",
        {"PolicyDocument": {"Statement": list(statements), "Version": "2012-10-17"}, "Roles": [ref(role)]},
    )


def published(key: str, value: Any) -> Resource:
    """What `ServiceStack.share` adds to the ingest stack: an SSM parameter holding `value`."""
    return resource(
        "AWS::SSM::Parameter",
        f"Ingest/{key}Parameter/Resource",
        {"Name": f"/iot/dev/ingest/{key}", "Type": "String", "Value": value},
    )


def read_parameter(name: str, parameter_type: str = "AWS::SSM::Parameter::Value<String>") -> dict[str, Any]:
    """What `ServiceStack.read_shared` adds to a consuming stack: a parameter resolved from SSM at deploy time."""
    return {"Type": parameter_type, "Default": name}


def allow(action: str | list[str], target: Any, effect: str = "Allow") -> dict[str, Any]:
    return {"Action": action, "Effect": effect, "Resource": target}


def edges(*stacks: StackTemplate) -> set[tuple[str, str, str, str]]:
    return {(e.source, e.arrow, e.label, e.target) for e in build_diagram(list(stacks)).edges}


def node_ids(*stacks: StackTemplate) -> set[str]:
    return {node.id for node in build_diagram(list(stacks)).nodes}


# --- edges -------------------------------------------------------------------------------------------------------


def test_an_event_source_mapping_on_the_alias_links_the_stream_to_the_function_and_its_failure_destination() -> None:
    ingest = stack(
        "Ingest",
        processor(
            Failed=resource("AWS::S3::Bucket", "Ingest/Storage/FailedBatches/Resource"),
            Live=resource("AWS::Lambda::Alias", "Ingest/Processor/Live/Resource", {"FunctionName": ref("Fn")}),
            Mapping=resource(
                "AWS::Lambda::EventSourceMapping",
                "Ingest/Processor/Live/KinesisEventSource/Resource",
                {
                    "EventSourceArn": arn("Stream"),
                    # how CDK names the alias of an event source: the function name out of the alias ARN, + ":live"
                    "FunctionName": {
                        "Fn::Join": ["", [{"Fn::Select": [6, {"Fn::Split": [":", ref("Live")]}]}, ":live"]]
                    },
                    "DestinationConfig": {"OnFailure": {"Destination": arn("Failed")}},
                },
            ),
        ),
    )

    assert edges(ingest) == {
        (STREAM, "-->", "event source mapping", PROCESSOR),
        (PROCESSOR, "-->", "on failure", "Ingest_Storage_FailedBatches"),
    }


def test_iam_statements_that_write_become_edges_from_the_node_running_as_the_role() -> None:
    ingest = stack(
        "Ingest",
        processor(
            Table=resource("AWS::DynamoDB::Table", "Ingest/Storage/Readings/Resource"),
            Processed=resource("AWS::S3::Bucket", "Ingest/Storage/Processed/Resource"),
            Denied=resource("AWS::S3::Bucket", "Ingest/Storage/Denied/Resource"),
            Topic=resource("AWS::SNS::Topic", "Ingest/Alerts/Topic/Resource"),
            Policy=policy(
                allow(["dynamodb:BatchWriteItem", "dynamodb:DescribeTable"], [arn("Table"), objects_in("Table")]),
                allow(["s3:Abort*", "s3:PutObject"], objects_in("Processed", "processed/*")),
                allow("sns:Publish", ref("Topic")),
                allow(["kinesis:GetRecords", "kinesis:DescribeStream"], arn("Stream")),  # reads: no edge
                allow("s3:PutObject", objects_in("Denied"), effect="Deny"),
            ),
        ),
    )

    assert edges(ingest) == {
        (PROCESSOR, "-->", "writes", "Ingest_Storage_Readings"),
        (PROCESSOR, "-->", "writes", "Ingest_Storage_Processed"),
        (PROCESSOR, "-->", "publishes", "Ingest_Alerts_Topic"),
    }


@pytest.mark.parametrize(
    ("action", "writes"),
    [
        ("s3:PutObject", True),
        ("S3:PUTOBJECT", True),
        ("s3:Put*", True),
        ("s3:*", True),
        ("s3:GetObject", False),
        ("s3:PutObjectAcl", False),
        ("sns:Publish", False),
    ],
)
def test_a_statement_writes_to_a_resource_when_its_action_covers_a_write_action_of_that_resource(
    action: str, writes: bool
) -> None:
    ingest = stack(
        "Ingest",
        processor(
            Bucket=resource("AWS::S3::Bucket", "Ingest/Storage/Processed/Resource"),
            Policy=policy(allow(action, objects_in("Bucket"))),
        ),
    )

    expected = {(PROCESSOR, "-->", "writes", "Ingest_Storage_Processed")} if writes else set()
    assert edges(ingest) == expected


def test_a_policy_draws_edges_only_from_the_nodes_that_run_as_its_roles() -> None:
    ingest = stack(
        "Ingest",
        processor(
            OtherRole=resource("AWS::IAM::Role", "Ingest/SmokeTest/Role/Resource"),
            Topic=resource("AWS::SNS::Topic", "Ingest/Alerts/Topic/Resource"),
            Policy=policy(allow("sns:Publish", ref("Topic")), role="OtherRole"),
        ),
    )

    assert edges(ingest) == set()


def test_a_specific_link_keeps_its_label_over_the_write_permission_behind_it() -> None:
    ingest = stack(
        "Ingest",
        processor(
            Failed=resource("AWS::S3::Bucket", "Ingest/Storage/FailedBatches/Resource"),
            Mapping=resource(
                "AWS::Lambda::EventSourceMapping",
                "Ingest/Processor/Mapping/Resource",
                {
                    "EventSourceArn": arn("Stream"),
                    "FunctionName": ref("Fn"),
                    "DestinationConfig": {"OnFailure": {"Destination": arn("Failed")}},
                },
            ),
            Policy=policy(allow("s3:PutObject", objects_in("Failed"))),
        ),
    )

    failure_edges = {edge for edge in edges(ingest) if edge[3] == "Ingest_Storage_FailedBatches"}
    assert failure_edges == {(PROCESSOR, "-->", "on failure", "Ingest_Storage_FailedBatches")}


def shared_stream(
    parameter_type: str = "AWS::SSM::Parameter::Value<String>", name: str = "/iot/dev/ingest/stream-arn"
) -> tuple[StackTemplate, StackTemplate]:
    """The ingest stack publishing its stream's ARN, and an archive stack whose Firehose reads a parameter."""
    ingest = stack(
        "Ingest",
        {
            "Stream": resource("AWS::Kinesis::Stream", "Ingest/Readings/Stream/Resource"),
            "StreamArnParameter": published("stream-arn", arn("Stream")),
        },
    )
    archive = stack(
        "Archive",
        {
            "Raw": resource("AWS::S3::Bucket", "Archive/RawArchive/Resource"),
            "Delivery": resource(
                "AWS::KinesisFirehose::DeliveryStream",
                "Archive/Delivery/DeliveryStream",
                {
                    "KinesisStreamSourceConfiguration": {"KinesisStreamARN": ref("StreamArn")},
                    "ExtendedS3DestinationConfiguration": {"BucketARN": arn("Raw")},
                },
            ),
        },
        parameters={"StreamArn": read_parameter(name, parameter_type)},
    )
    return ingest, archive


def test_a_value_shared_through_ssm_resolves_to_the_publishing_stacks_resource() -> None:
    assert edges(*shared_stream()) == {
        (STREAM, "-->", "stream source", "Archive_Delivery_DeliveryStream"),
        ("Archive_Delivery_DeliveryStream", "-->", "delivers", "Archive_RawArchive"),
    }


@pytest.mark.parametrize(
    ("parameter_type", "name"),
    [("String", "/iot/dev/ingest/stream-arn"), ("AWS::SSM::Parameter::Value<String>", "/iot/dev/ingest/nobody")],
    ids=["plain-parameter", "unpublished-name"],
)
def test_only_an_ssm_parameter_some_stack_publishes_crosses_stacks(parameter_type: str, name: str) -> None:
    assert edges(*shared_stream(parameter_type, name)) == {
        ("Archive_Delivery_DeliveryStream", "-->", "delivers", "Archive_RawArchive")
    }


def test_the_composite_alarm_watches_what_its_alarms_measure_and_notifies_its_topic() -> None:
    ingest = stack(
        "Ingest",
        processor(FunctionNameParameter=published("function-name", ref("Fn"))),
    )
    observability = stack(
        "Observability",
        {
            "Topic": resource("AWS::SNS::Topic", "Observability/Ops/Topic/Resource"),
            "Errors": resource(
                "AWS::CloudWatch::Alarm",
                "Observability/Alarms/Errors/Resource",
                {"Dimensions": [{"Name": "FunctionName", "Value": ref("FunctionName")}]},
            ),
            "Unhealthy": resource(
                "AWS::CloudWatch::CompositeAlarm",
                "Observability/Alarms/DataPathUnhealthy/Resource",
                {"AlarmRule": {"Fn::Join": ["", ['ALARM("', arn("Errors"), '")']]}, "AlarmActions": [ref("Topic")]},
            ),
        },
        parameters={"FunctionName": read_parameter("/iot/dev/ingest/function-name")},
    )

    assert edges(ingest, observability) == {
        (PROCESSOR, "-.->", "alarms", "Observability_Alarms_DataPathUnhealthy"),
        ("Observability_Alarms_DataPathUnhealthy", "-->", "notifies", "Observability_Ops_Topic"),
    }


# --- nodes -------------------------------------------------------------------------------------------------------


def test_access_log_buckets_are_left_out_and_the_buckets_they_log_are_drawn() -> None:
    ingest = stack(
        "Ingest",
        {
            "AccessLogs": resource("AWS::S3::Bucket", "Ingest/Storage/AccessLogs/Resource"),
            "Processed": resource(
                "AWS::S3::Bucket",
                "Ingest/Storage/Processed/Resource",
                {"LoggingConfiguration": {"DestinationBucketName": ref("AccessLogs"), "LogFilePrefix": "Processed/"}},
            ),
            "Results": resource("AWS::S3::Bucket", "Ingest/QueryResults/Resource"),
        },
    )

    assert node_ids(ingest) == {"Ingest_Storage_Processed", "Ingest_QueryResults"}


@pytest.mark.parametrize(
    "path",
    [
        "Ingest/LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a/Resource",
        "Ingest/BucketNotificationsHandler050a0587b7544547bf325f094a3db834/Resource",  # pragma: allowlist secret (id)
        "Ingest/AWS679f53fac002430cb0da5b7982bd2287/Resource",  # pragma: allowlist secret (CDK's singleton id)
        "Ingest/Custom::S3AutoDeleteObjectsCustomResourceProvider/Handler",
        "Ingest/Provider/framework-onEvent/Resource",
    ],
)
def test_functions_cdk_adds_for_itself_are_left_out(path: str) -> None:
    ingest = stack("Ingest", processor(Internal=resource("AWS::Lambda::Function", path)))

    assert node_ids(ingest) == {PROCESSOR, STREAM}


def test_nodes_are_named_after_their_construct_paths_and_labelled_with_their_role_and_kind() -> None:
    diagram = build_diagram(
        [
            stack(
                "Observability",
                {
                    "Dashboard": resource("AWS::CloudWatch::Dashboard", "Observability/Dashboard/Dashboard/Resource"),
                    "Failed": resource("AWS::S3::Bucket", "Observability/Storage/FailedBatches/Resource"),
                    "Glue": resource("AWS::Glue::Table", "Observability/Queries/ReadingsTable"),
                    "Rule": resource("AWS::IoT::TopicRule", "Observability/MQTT/Rule"),
                    "Key": resource("AWS::KMS::Key", "Observability/Key/Resource"),  # not a kind that is drawn
                },
            )
        ]
    )

    assert {(node.id, node.label) for node in diagram.nodes} == {
        ("Observability_Dashboard_Dashboard", "CloudWatch dashboard"),
        ("Observability_Storage_FailedBatches", "Failed batches\nS3 bucket"),
        ("Observability_Queries_ReadingsTable", "Readings\nGlue table"),
        ("Observability_MQTT_Rule", "MQTT\nIoT topic rule"),
    }


def test_two_resources_that_would_share_a_node_id_are_an_error() -> None:
    ingest = stack(
        "Ingest",
        {
            "A": resource("AWS::SNS::Topic", "Ingest/Alerts/Topic/Resource"),
            "B": resource("AWS::SNS::Topic", "Ingest/Alerts/Topic"),
        },
    )

    with pytest.raises(DiagramError, match="both be drawn as Ingest_Alerts_Topic"):
        build_diagram([ingest])


# --- rendering and the document ------------------------------------------------------------------------------------


def test_the_flowchart_quotes_labels_and_escapes_what_mermaid_would_read_as_markup() -> None:
    diagram = Diagram(
        stacks=(("Ingest", "iot-<stage>-ingest"),),
        nodes=(Node(id="Ingest_Alerts_Topic", stack="Ingest", label='The "alerts"\nSNS topic'),),
        edges=(),
    )

    assert render(diagram) == (
        "flowchart LR\n"
        '  subgraph Ingest["iot-#60;stage#62;-ingest"]\n'
        '    Ingest_Alerts_Topic["The #quot;alerts#quot;<br/>SNS topic"]\n'
        "  end\n"
    )


def test_the_flowchart_does_not_depend_on_the_order_of_the_templates_resources() -> None:
    resources = processor(
        Table=resource("AWS::DynamoDB::Table", "Ingest/Storage/Readings/Resource"),
        Topic=resource("AWS::SNS::Topic", "Ingest/Alerts/Topic/Resource"),
        Policy=policy(allow("sns:Publish", ref("Topic")), allow("dynamodb:PutItem", arn("Table"))),
    )
    reversed_resources = dict(reversed(list(resources.items())))

    assert render(build_diagram([stack("Ingest", resources)])) == render(
        build_diagram([stack("Ingest", reversed_resources)])
    )


def test_edges_render_with_their_arrow_and_label() -> None:
    diagram = Diagram(stacks=(), nodes=(), edges=(Edge(source="A", target="B", label="alarms", arrow="-.->"),))

    assert render(diagram) == "flowchart LR\n  A -.->|alarms| B\n"


def test_the_diagram_replaces_only_what_is_between_the_markers() -> None:
    document = f"# Title\n\n{DIAGRAM_BEGIN}\nold\n{DIAGRAM_END}\n\nrest\n"

    assert with_diagram(document, "flowchart LR\n") == (
        f"# Title\n\n{DIAGRAM_BEGIN}\n```mermaid\nflowchart LR\n```\n{DIAGRAM_END}\n\nrest\n"
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (f"{DIAGRAM_BEGIN}\n", "diagram:end"),
        (f"{DIAGRAM_END}\n", "diagram:begin"),
        (f"{DIAGRAM_BEGIN}\n{DIAGRAM_BEGIN}\n{DIAGRAM_END}\n", "diagram:begin .* exactly once"),
        (f"{DIAGRAM_END}\n{DIAGRAM_BEGIN}\n", "must come after"),
    ],
    ids=["no-end", "no-begin", "two-begins", "end-first"],
)
def test_markers_missing_repeated_or_out_of_order_are_an_error(document: str, message: str) -> None:
    with pytest.raises(DiagramError, match=message):
        with_diagram(document, "flowchart LR\n")


# --- reading an assembly, and the command line ----------------------------------------------------------------------


def write_assembly(root: Path, stages: dict[str, dict[str, Resource]], *, inline_metadata: bool = False) -> Path:
    """A cloud assembly as `cdk synth` writes it: one nested assembly per stage, one stack `iot-<stage>-ingest`,
    its logical ids' construct paths in a metadata file (older CDK versions put them in the manifest)."""
    artifacts = {}
    for stage, resources in stages.items():
        directory, stage_path = f"assembly-App-{stage.title()}", f"App/{stage.title()}"
        artifacts[directory] = {
            "type": "cdk:cloud-assembly",
            "properties": {"directoryName": directory, "displayName": stage_path},
        }
        (root / directory).mkdir(parents=True)
        template = {"Resources": {logical_id: body for logical_id, (_, body) in resources.items()}}
        (root / directory / "Ingest.template.json").write_text(json.dumps(template), encoding="utf-8")
        metadata = {
            f"/{stage_path}/{path}": [{"type": "aws:cdk:logicalId", "data": logical_id}]
            for logical_id, (path, _) in resources.items()
        }
        metadata[f"/{stage_path}/Ingest"] = [{"type": "aws:cdk:templateFile", "data": "Ingest.template.json"}]
        stack_artifact: dict[str, Any] = {
            "type": "aws:cloudformation:stack",
            "properties": {"templateFile": "Ingest.template.json", "stackName": f"iot-{stage}-ingest"},
            "displayName": f"{stage_path}/Ingest",
        }
        if inline_metadata:
            stack_artifact["metadata"] = metadata
        else:
            stack_artifact["additionalMetadataFile"] = "Ingest.metadata.json"
            (root / directory / "Ingest.metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
        manifest = {"artifacts": {"Ingest.assets": {"type": "cdk:asset-manifest"}, "Ingest": stack_artifact}}
        (root / directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (root / "manifest.json").write_text(json.dumps({"artifacts": artifacts}), encoding="utf-8")
    return root


@pytest.mark.parametrize("inline_metadata", [False, True], ids=["metadata-file", "metadata-in-manifest"])
def test_a_stage_is_read_from_its_nested_assembly_with_the_stage_generic_in_the_titles(
    tmp_path: Path, inline_metadata: bool
) -> None:
    topic = resource("AWS::SNS::Topic", "Ingest/Alerts/Topic/Resource")
    assembly = write_assembly(tmp_path, {"dev": {}, "prod": {"Topic": topic}}, inline_metadata=inline_metadata)

    [ingest] = stage_stacks(assembly, "prod")

    assert (ingest.construct_path, ingest.title) == ("App/Prod/Ingest", "iot-<stage>-ingest")
    assert [node.id for node in build_diagram([ingest]).nodes] == ["Ingest_Alerts_Topic"]


@pytest.mark.parametrize(
    ("make_dir", "message"),
    [
        (lambda root: root / "missing", "does not exist: synthesize first"),
        (lambda root: root, "is not a cloud assembly"),
        (lambda root: write_assembly(root, {"dev": {}, "prod": {}}), r"no stage 'qa' .*its stages: dev, prod"),
    ],
    ids=["missing-dir", "no-manifest", "unknown-stage"],
)
def test_an_assembly_that_cannot_be_read_is_an_error_naming_the_problem(
    tmp_path: Path, make_dir: Any, message: str
) -> None:
    with pytest.raises(DiagramError, match=message):
        stage_stacks(make_dir(tmp_path), "qa")


def test_the_cli_writes_the_diagram_then_check_passes_and_fails_once_the_document_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assembly = write_assembly(tmp_path / "cdk.out", {"dev": {}})
    doc = tmp_path / "architecture.md"
    doc.write_text(f"# Architecture\n{DIAGRAM_BEGIN}\n{DIAGRAM_END}\n", encoding="utf-8")
    arguments = ["--assembly-dir", str(assembly), "--doc", str(doc)]

    assert main([*arguments, "--check"]) == 1
    assert f"{doc} is stale: run make docs" in capsys.readouterr().err
    assert main(arguments) == 0
    assert main([*arguments, "--check"]) == 0
    doc.write_text(doc.read_text(encoding="utf-8").replace("flowchart LR", "flowchart TD"), encoding="utf-8")
    assert main([*arguments, "--check"]) == 1
    assert "flowchart TD" in doc.read_text(encoding="utf-8")  # --check never writes


@pytest.mark.parametrize(
    ("document", "stage", "message"),
    [
        ("# no markers\n", "dev", "diagram:begin"),
        (f"{DIAGRAM_BEGIN}\n{DIAGRAM_END}\n", "qa", "no stage 'qa'"),
        (None, "dev", "architecture.md does not exist"),
    ],
    ids=["no-markers", "unknown-stage", "no-document"],
)
def test_the_cli_reports_bad_input_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], document: str | None, stage: str, message: str
) -> None:
    assembly = write_assembly(tmp_path / "cdk.out", {"dev": {}})
    doc = tmp_path / "architecture.md"
    if document is not None:
        doc.write_text(document, encoding="utf-8")

    assert main(["--assembly-dir", str(assembly), "--doc", str(doc), "--stage", stage]) == 2
    assert message in capsys.readouterr().err


# --- docs/architecture.md ----------------------------------------------------------------------------------------


def test_docs_architecture_shows_the_diagram_of_the_synthesized_dev_stage(app: App, assembly_dir: Path) -> None:
    document = ARCHITECTURE_DOC.read_text(encoding="utf-8")

    assert updated_document(document, assembly_dir=assembly_dir, stage="dev") == document, (
        "docs/architecture.md is stale: run make docs"
    )


def test_the_help_is_what_docs_command_lines_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    assert printed_help(main, monkeypatch) == documented_help("tools.reports.architecture_diagram")
