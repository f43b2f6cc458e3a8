"""Stage composition: three service stacks per stage, named, tagged, wired without CloudFormation exports."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Match, Template

from stages.cost.model import StageResources, monthly_bill
from stages.cost.prices import load_prices
from stages.iot_stage import IotStage

pytestmark = pytest.mark.synth  # reads the synthesized app: not in `make unit`

SERVICES = ("ingest", "archive", "observability")
OWNERS = {"ingest": "iot-ingest", "archive": "iot-data", "observability": "iot-sre"}


def test_each_stage_has_the_three_service_stacks_with_explicit_names(stages: list[IotStage]) -> None:
    for stage in stages:
        names = [stack.stack_name for stack in stage.node.children if isinstance(stack, Stack)]
        assert names == [f"iot-{stage.config.name}-{service}" for service in SERVICES]


def test_stacks_deploy_to_the_stage_account_and_region(stages: list[IotStage]) -> None:
    for stage in stages:
        for stack in stage.service_stacks:
            assert (stack.account, stack.region) == (stage.config.account, stage.config.region)


@pytest.mark.parametrize("service", SERVICES)
def test_every_taggable_resource_carries_the_ownership_tags(stages: list[IotStage], service: str) -> None:
    for stage in stages:
        stack = next(s for s in stage.service_stacks if s.SERVICE.name == service)
        expected = {
            "Environment": stage.config.name,
            "Service": service,
            "OwnerTeam": OWNERS[service],
            "CostCenter": stage.config.cost_center,
        }
        tagged = [
            resource
            for resource in Template.from_stack(stack).to_json()["Resources"].values()
            if isinstance(resource.get("Properties", {}).get("Tags"), list)
        ]
        assert tagged, f"no taggable resource in {stack.stack_name}"
        for resource in tagged:
            tags = {tag["Key"]: tag["Value"] for tag in resource["Properties"]["Tags"]}
            assert expected.items() <= tags.items(), resource["Type"]


def test_stacks_share_values_through_ssm_not_exports(stages: list[IotStage]) -> None:
    for stage in stages:
        for stack in stage.service_stacks:
            body = json.dumps(Template.from_stack(stack).to_json())
            assert "Fn::ImportValue" not in body
            assert "Export" not in body
        Template.from_stack(stage.ingest).has_resource_properties(
            "AWS::SSM::Parameter", {"Name": f"/iot/{stage.config.name}/ingest/stream-arn"}
        )
        Template.from_stack(stage.archive).has_parameter(
            "*",
            {"Type": "AWS::SSM::Parameter::Value<String>", "Default": f"/iot/{stage.config.name}/ingest/stream-arn"},
        )


def test_deploy_order_follows_the_shared_values(stages: list[IotStage]) -> None:
    for stage in stages:
        assert stage.ingest in stage.archive.dependencies
        assert stage.archive in stage.observability.dependencies


def test_prod_stacks_are_termination_protected_and_others_are_not(stages: list[IotStage]) -> None:
    for stage in stages:
        assert all(stack.termination_protection == stage.config.is_production for stack in stage.service_stacks)


def test_data_is_retained_in_prod(stages: list[IotStage]) -> None:
    prod = next(stage for stage in stages if stage.config.is_production)
    Template.from_stack(prod.ingest).has_resource("AWS::Kinesis::Stream", {"DeletionPolicy": "Retain"})
    Template.from_stack(prod.archive).has_resource(
        "AWS::S3::Bucket", {"DeletionPolicy": "Retain", "Properties": Match.any_value()}
    )


def _alarm(stack: Stack, name: str) -> dict[str, Any]:
    (alarm,) = (
        Template.from_stack(stack)
        .find_resources("AWS::CloudWatch::Alarm", {"Properties": {"AlarmName": name}})
        .values()
    )
    properties: dict[str, Any] = alarm["Properties"]
    return properties


def test_a_processor_deployment_rolls_back_on_the_thresholds_the_data_path_alarms_use(stages: list[IotStage]) -> None:
    for stage in stages:
        watch, name = stage.config.observability, stage.config.name
        errors = _alarm(stage.ingest, f"iot-{name}-deploy-processor-errors")
        iterator_age = _alarm(stage.ingest, f"iot-{name}-deploy-processor-iterator-age")
        assert errors["Threshold"] == watch.error_threshold
        assert iterator_age["Threshold"] == watch.iterator_age_threshold_seconds * 1000


def test_the_archive_freshness_alarm_allows_the_archives_own_buffer_interval(stages: list[IotStage]) -> None:
    for stage in stages:
        freshness = _alarm(stage.observability, f"iot-{stage.config.name}-archive-freshness")
        expected = stage.config.archive.buffer_interval_seconds + stage.config.observability.freshness_margin_seconds
        assert freshness["Threshold"] == expected


def test_every_ssm_parameter_a_stack_reads_is_written_by_an_earlier_stack_of_its_stage(stages: list[IotStage]) -> None:
    """Both directions of every shared value: a read with no writer deploys a stack that cannot resolve, and a value
    written under one name but read under another fails the same way, only at deploy time."""
    for stage in stages:
        written: dict[str, str] = {}  # parameter name -> the stack that writes it
        for stack in stage.service_stacks:  # in deploy order
            template = Template.from_stack(stack).to_json()
            reads = {
                parameter["Default"]
                for parameter in template.get("Parameters", {}).values()
                if parameter["Type"].startswith("AWS::SSM::Parameter::Value")
                and parameter["Default"].startswith("/iot/")
            }
            unwritten = reads - written.keys()
            assert not unwritten, f"{stack.stack_name} reads {sorted(unwritten)}, which no earlier stack writes"
            for resource in template["Resources"].values():
                if resource["Type"] == "AWS::SSM::Parameter":
                    written[resource["Properties"]["Name"]] = stack.stack_name
        name = stage.config.name
        assert {f"/iot/{name}/ingest/stream-arn", f"/iot/{name}/archive/raw-bucket-name"} <= written.keys()
        assert all(parameter.startswith(f"/iot/{name}/") for parameter in written)


def test_each_stages_budget_is_the_cost_models_figure_for_its_expected_load(stages: list[IotStage]) -> None:
    prices = load_prices()
    amounts = {}
    for stage in stages:
        (budget,) = Template.from_stack(stage.observability).find_resources("AWS::Budgets::Budget").values()
        amounts[stage.config.name] = budget["Properties"]["Budget"]["BudgetLimit"]["Amount"]
        expected = monthly_bill(stage.config, stage.config.expected_load, prices).monthly_usd
        margin = stage.config.observability.budget_margin_percent
        assert amounts[stage.config.name] == math.ceil(expected * (1 + margin / 100))
    assert amounts["dev"] < amounts["staging"] < amounts["prod"]


def test_the_auto_scaling_ceiling_alarms_watch_the_provisioned_tables_ceilings(stages: list[IotStage]) -> None:
    for stage in stages:
        alarms = {
            alarm["Properties"]["AlarmName"]: alarm["Properties"]
            for alarm in Template.from_stack(stage.observability).find_resources("AWS::CloudWatch::Alarm").values()
        }
        capacity = stage.config.ingest.table_capacity
        ceilings = {name: alarms[name]["Threshold"] for name in alarms if name.endswith("-write-capacity-at-max")}
        if capacity is None:
            assert ceilings == {}
        else:
            assert ceilings == {
                f"iot-{stage.config.name}-table-write-capacity-at-max": capacity.writes.max_units,
                f"iot-{stage.config.name}-index-write-capacity-at-max": capacity.index_writes.max_units,
            }


def test_the_cost_model_counts_what_the_stage_templates_hold(stages: list[IotStage]) -> None:
    """The fixed resources the model bills (StageResources) are the ones each stage's templates declare."""
    resources = StageResources()
    for stage in stages:
        templates = [Template.from_stack(stack) for stack in stage.service_stacks]

        def count(resource_type: str, templates: list[Template] = templates) -> int:
            return sum(len(template.find_resources(resource_type)) for template in templates)

        alarm_metrics = sum(
            len([query for query in alarm["Properties"].get("Metrics", []) if "MetricStat" in query]) or 1
            for template in templates
            for alarm in template.find_resources("AWS::CloudWatch::Alarm").values()
        )
        provisioned = stage.config.ingest.table_capacity is not None
        watches_silence = stage.config.observability.ingest_silence_minutes is not None
        expected_alarms = (
            resources.alarm_metrics
            + (resources.capacity_alarm_metrics if provisioned else 0)
            + (resources.silence_alarm_metrics if watches_silence else 0)
        )
        assert alarm_metrics == expected_alarms, stage.config.name
        assert count("AWS::KMS::Key") == resources.kms_keys
        assert count("AWS::SecretsManager::Secret") == resources.secrets
        assert count("AWS::CloudWatch::CompositeAlarm") == resources.composite_alarms
        assert count("AWS::CloudWatch::Dashboard") == resources.dashboards
