"""Config loading: the committed cdk.json is valid, and every kind of bad input fails with a precise message."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import pytest

from pipeline.config import PlatformConfig, load_platform_config
from shared.config import ConfigError, between, checked, committed_context, configured_stages, load_section
from shared.environment import load_stage_environment
from stages.config import sandbox_stage


def _load(**overrides: Any) -> PlatformConfig:
    return load_platform_config({**committed_context(), **overrides})


def test_committed_config_has_three_stages_in_delivery_order(platform_config: PlatformConfig) -> None:
    assert [stage.name for stage in platform_config.stages] == ["dev", "staging", "prod"]
    assert len({stage.account for stage in platform_config.stages} | {platform_config.pipeline.tooling_account}) == 4


def test_config_objects_are_frozen(platform_config: PlatformConfig) -> None:
    with pytest.raises(AttributeError):
        platform_config.stage("dev").account = "123456789012"  # type: ignore[misc]


def test_command_line_override_is_coerced_to_the_field_type() -> None:
    config = _load(**{"iot.stages.prod.ingest.shardCount": "20", "iot.stages.dev.ingest.alertEmails": "a@x.io,b@x.io"})
    assert config.stage("prod").ingest.shard_count == 20
    assert config.stage("dev").ingest.alert_emails == ("a@x.io", "b@x.io")


def test_anomaly_bounds_default_to_the_documented_thresholds(platform_config: PlatformConfig) -> None:
    bounds = platform_config.stage("prod").ingest.anomaly_bounds
    assert {name: bound.upper for name, bound in bounds.items()} == {
        "temperature": 100,
        "pressure": 150,
        "vibration": 5,
    }


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"iot.stages.dev.account": "12345"}, "stage 'dev': account: must be a 12-digit AWS account id, got '12345'"),
        ({"iot.stages.staging.region": "mars-1"}, "stage 'staging': region: must be an AWS region"),
        ({"iot.stages.prod.ingest.shardCount": "0"}, "stage 'prod': ingest.shardCount: must be greater than 0, got 0"),
        (
            {"iot.stages.dev.ingest.batchSize": "-5"},
            "stage 'dev': ingest.batchSize: must be between 1 and 10000, got -5",
        ),
        ({"iot.stages.dev.ingest.batchSize": "many"}, "stage 'dev': ingest.batchSize: must be an integer, got 'many'"),
        ({"iot.stages.prod.removalPolicy": "destroy"}, "stage 'prod': removalPolicy: prod must retain its data"),
        ({"iot.stages.dev.removalPolicy": "keep"}, "stage 'dev': removalPolicy: must be one of ['destroy', 'retain']"),
        ({"iot.stages.dev.ingest.streamMode": "fast"}, "stage 'dev': ingest.streamMode: must be one of"),
        (
            {"iot.stages.dev.ingest.maxRecordAgeSeconds": "90000"},
            "stage 'dev': ingest.maxRecordAgeSeconds (90000) must stay below",
        ),
        (
            {"iot.stages.dev.observability.opsEmails": "not-an-address"},
            "stage 'dev': observability.opsEmails: holds malformed",
        ),
        ({"iot.stages.dev.ingest.shardCont": "2"}, "stage 'dev': ingest.shardCont: unknown setting"),
        ({"iot.pipeline.toolingAccount": "abc"}, "pipeline.toolingAccount: must be a 12-digit AWS account id"),
        (
            {"iot.pipeline.connectionArn": "arn:aws:s3:::x"},
            "pipeline.connectionArn: must be a CodeConnections connection ARN",
        ),
        ({"iot.pipeline.repository": "no-owner"}, "pipeline.repository: must be a GitHub repository as owner/name"),
        (
            {"iot.stages.prod.ingest.trafficShift": "Canary50Percent"},
            "stage 'prod': ingest.trafficShift: must be one of ['AllAtOnce', 'Canary10Percent5Minutes'",
        ),
        ({"iot.stages.dev.delivery.bakeMinutes": "56"}, "stage 'dev': delivery.bakeMinutes: must be between 0 and 55"),
        (
            {"iot.stages.dev.observability.ingestSilenceMinutes": "0"},
            "stage 'dev': observability.ingestSilenceMinutes: must be between 1 and 1440 minutes",
        ),
        (
            {"iot.stages.prod.observability.ingestSilenceMinutes": "1441"},
            "stage 'prod': observability.ingestSilenceMinutes: must be between 1 and 1440 minutes",
        ),
        ({"iot.stages.dev.delivery.bakeMinutes": "-1"}, "stage 'dev': delivery.bakeMinutes: must be between 0 and 55"),
        ({"iot.pipeline.notificationEmails": "ops@"}, "pipeline.notificationEmails: holds malformed e-mail addresses"),
        (
            {"iot.stages.dev.ingest.anomalyBounds": '{"temperature": {"lower": 50, "upper": 10}}'},
            "stage 'dev': ingest.anomalyBounds: lower must be below upper for ['temperature']",
        ),
    ],
)
def test_invalid_value_names_stage_and_field(override: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        _load(**override)
    assert message in str(error.value)


@pytest.mark.parametrize(
    "schedule",
    ["rate(1 hour)", "rate(2 hours)", "rate(1 day)", "rate(14 days)", "cron(0 5 * * ? *)", "cron(59 * * * ? *)"],
)
def test_drift_schedules_at_most_hourly_are_accepted(schedule: str) -> None:
    assert _load(**{"iot.stages.dev.observability.drift.schedule": schedule}).stage(
        "dev"
    ).observability.drift.schedule == (schedule)


@pytest.mark.parametrize(
    "schedule",
    [
        "rate(1 hours)",
        "rate(2 hour)",
        "rate(0 days)",
        "rate(30 minutes)",
        "cron(*/5 * * * ? *)",
        "cron(0 5 * * ?)",
        "daily",
    ],
)
def test_drift_schedules_more_often_than_hourly_or_malformed_are_refused(schedule: str) -> None:
    with pytest.raises(ConfigError) as error:
        _load(**{"iot.stages.dev.observability.drift.schedule": schedule})
    assert "stage 'dev': observability.drift.schedule: must be rate(N hours|days) or cron(six fields" in str(
        error.value
    )
    assert repr(schedule) in str(error.value)


def test_drift_check_defaults_to_daily_without_rules() -> None:
    context = copy.deepcopy(committed_context())
    del context["iot"]["stages"]["dev"]["observability"]["drift"]
    drift = load_platform_config(context).stage("dev").observability.drift
    assert (drift.schedule, drift.ignore) == ("rate(1 day)", ())


def test_prod_ignores_the_throughput_dynamodb_and_auto_scaling_change(platform_config: PlatformConfig) -> None:
    rules = platform_config.stage("prod").observability.drift.ignore
    assert [(rule.resource_type, rule.property_path) for rule in rules] == [
        ("AWS::DynamoDB::Table", "*/WarmThroughput/*"),
        ("AWS::DynamoDB::Table", "*/ProvisionedThroughput/*"),
    ]
    assert [platform_config.stage(name).observability.drift.ignore for name in ("dev", "staging")] == [(), ()]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"resourceType": "AWS::S3::Bucket", "propertyPath": "Tags", "reason": "tags set by the org policy"},
            "observability.drift.ignore: rule 0: propertyPath must start with / or *",
        ),
        (
            {"resourceType": "bucket", "propertyPath": "/Tags/*", "reason": "tags set by the org policy"},
            "observability.drift.ignore: rule 0: resourceType must be a CloudFormation type",
        ),
        (
            {"resourceType": "AWS::S3::Bucket", "propertyPath": "/Tags/*", "reason": "noise"},
            "observability.drift.ignore: rule 0: reason must say in a sentence why AWS changes",
        ),
        ({"resourceType": "AWS::S3::Bucket", "propertyPath": "/Tags/*"}, "observability.drift.ignore.reason: missing"),
        (
            {"resourceType": "AWS::S3::Bucket", "propertyPath": "/Tags/*", "reason": "x y z w v", "stage": "dev"},
            "observability.drift.ignore.stage: unknown setting",
        ),
    ],
)
def test_a_bad_drift_ignore_rule_names_stage_field_and_problem(rule: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        _load(**{"iot.stages.staging.observability.drift.ignore": json.dumps([rule])})
    assert f"stage 'staging': {message}" in str(error.value)


def test_the_ingest_silence_alarm_is_configured_per_stage_within_a_day() -> None:
    config = _load(
        **{
            "iot.stages.dev.observability.ingestSilenceMinutes": "1",
            "iot.stages.prod.observability.ingestSilenceMinutes": "1440",
        }
    )
    assert [config.stage(n).observability.ingest_silence_minutes for n in ("dev", "staging", "prod")] == [1, None, 1440]
    committed = _load()
    assert [committed.stage(n).observability.ingest_silence_minutes for n in ("dev", "staging", "prod")] == [
        None,
        None,
        15,
    ]


def test_delivery_settings_at_their_limits_are_accepted() -> None:
    config = _load(**{"iot.stages.dev.delivery.bakeMinutes": "55", "iot.stages.staging.delivery.bakeMinutes": "0"})
    assert (config.stage("dev").delivery.bake_minutes, config.stage("staging").delivery.bake_minutes) == (55, 0)
    assert _load(**{"iot.pipeline.notificationEmails": "a@x.io"}).pipeline.notification_emails == ("a@x.io",)


def test_a_stage_without_delivery_settings_deploys_all_at_once_without_a_bake() -> None:
    context = copy.deepcopy(committed_context())
    del context["iot"]["stages"]["dev"]["delivery"]
    del context["iot"]["stages"]["dev"]["ingest"]["trafficShift"]
    dev = load_platform_config(context).stage("dev")
    assert (dev.ingest.traffic_shift, dev.delivery.bake_minutes) == ("AllAtOnce", 0)


def test_every_problem_is_reported_in_one_message() -> None:
    with pytest.raises(ConfigError) as error:
        _load(**{"iot.stages.dev.account": "1", "iot.stages.prod.ingest.shardCount": "0"})
    assert "stage 'dev': account" in str(error.value)
    assert "stage 'prod': ingest.shardCount" in str(error.value)


def test_missing_stage_fails() -> None:
    context = copy.deepcopy(committed_context())
    del context["iot"]["stages"]["staging"]
    with pytest.raises(ConfigError, match=r"stage 'staging': missing from iot\.stages"):
        load_platform_config(context)


def test_missing_field_fails() -> None:
    context = copy.deepcopy(committed_context())
    del context["iot"]["stages"]["prod"]["ingest"]["retentionHours"]
    with pytest.raises(ConfigError, match=r"stage 'prod': ingest.retentionHours: missing"):
        load_platform_config(context)


def test_missing_iot_context_fails() -> None:
    with pytest.raises(ConfigError, match="iot: expected an object"):
        load_platform_config({})


def test_sandbox_copies_a_stage_into_the_given_account(platform_config: PlatformConfig) -> None:
    sandbox = sandbox_stage(platform_config.stage("dev"), account="999999999999")
    assert (sandbox.name, sandbox.account, sandbox.removal_policy) == ("sandbox", "999999999999", "destroy")
    assert sandbox.ingest == platform_config.stage("dev").ingest


def test_sandbox_needs_a_valid_account(platform_config: PlatformConfig) -> None:
    with pytest.raises(ConfigError, match=r"sandboxAccount: must be a 12-digit AWS account id"):
        sandbox_stage(platform_config.stage("dev"), account="")


def test_sandbox_of_unknown_stage_fails(platform_config: PlatformConfig) -> None:
    with pytest.raises(ConfigError, match="stage 'qa' is not configured"):
        sandbox_stage(platform_config.stage("qa"), account="999999999999")


# --- one owner's section alone (shared/config.py, shared/environment.py) -------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Window:
    """A stand-in for a service's settings: one checked field and one rule across fields."""

    opens_at: int = checked(between(0, 23))
    closes_at: int = checked(between(0, 23))

    def cross_field_errors(self) -> list[str]:
        return [] if self.closes_at > self.opens_at else ["closesAt must be later than opensAt"]


WINDOWS = {"iot": {"stages": {"dev": {"window": {"opensAt": 8, "closesAt": 18}}}}}


def test_an_owner_loads_its_own_section_with_the_overrides_applied() -> None:
    assert load_section(WINDOWS, Window, "stages", "dev", "window") == Window(opens_at=8, closes_at=18)
    overridden = {**WINDOWS, "iot.stages.dev.window.closesAt": "20"}
    assert load_section(overridden, Window, "stages", "dev", "window").closes_at == 20


@pytest.mark.parametrize(
    ("stage", "section", "override", "message"),
    [
        ("qa", "window", {}, r"iot\.stages\.qa: missing"),
        ("dev", "door", {}, r"iot\.stages\.dev\.door: missing"),
        ("dev", "window", {"iot.stages.dev.window.opensAt": "24"}, r"stages\.dev\.window\.opensAt: must be between"),
        ("dev", "window", {"iot.stages.dev.window.closesAt": "7"}, r"stages\.dev\.window\.closesAt must be later"),
        ("dev", "window", {"iot.stages.dev.window.open": "1"}, r"stages\.dev\.window\.open: unknown setting"),
    ],
)
def test_a_bad_or_missing_section_names_its_path(
    stage: str, section: str, override: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_section({**WINDOWS, **override}, Window, "stages", stage, section)


def test_the_stage_environment_is_read_without_the_services_settings() -> None:
    prod = load_stage_environment(committed_context(), "prod")
    assert (prod.name, prod.account, prod.removal_policy) == ("prod", "444444444444", "retain")
    assert prod.is_production
    with pytest.raises(ConfigError, match=r"stages\.dev\.account: must be a 12-digit AWS account id"):
        load_stage_environment({**committed_context(), "iot.stages.dev.account": "12"}, "dev")
    with pytest.raises(ConfigError, match="prod must retain its data"):
        load_stage_environment({**committed_context(), "iot.stages.prod.removalPolicy": "destroy"}, "prod")
    with pytest.raises(ConfigError, match=r"iot\.stages\.qa: missing"):
        load_stage_environment(committed_context(), "qa")


def test_configured_stages_include_one_added_on_the_command_line() -> None:
    assert configured_stages(committed_context()) == ("dev", "staging", "prod")
    added = {**committed_context(), "iot.stages.qa": '{"account": "555555555555"}'}
    assert configured_stages(added) == ("dev", "staging", "prod", "qa")
