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


# --- backup and fault injection (shared/backup.py, shared/fault_injection.py) -----------------------------------------


def test_every_stage_backs_up_and_prod_locks_its_vault_and_copies_to_a_separate_account(
    platform_config: PlatformConfig,
) -> None:
    retention = {stage.name: stage.backup.retention_days for stage in platform_config.stages}
    assert retention == {"dev": 3, "staging": 7, "prod": 7}
    prod = platform_config.stage("prod").backup
    assert prod.vault_lock is not None
    assert prod.copy is not None
    accounts = {stage.account for stage in platform_config.stages} | {platform_config.pipeline.tooling_account}
    assert prod.copy.account not in accounts
    assert [platform_config.stage(name).backup.copy for name in ("dev", "staging")] == [None, None]


@pytest.mark.parametrize(
    "override",
    [
        {"iot.stages.dev.backup.retentionDays": "1"},
        {"iot.stages.dev.backup.retentionDays": "36500"},
        {"iot.stages.prod.backup.retentionDays": "7"},  # the lock's minimum
        {"iot.stages.prod.backup.retentionDays": "400"},  # the lock's maximum
        {"iot.stages.prod.backup.vaultLock.changeableForDays": "3"},
        {"iot.stages.prod.backup.vaultLock.changeableForDays": "null"},  # governance mode
        {"iot.stages.dev.backup.schedule": "cron(59 23 * * ? *)"},
        {"iot.stages.dev.backup.schedule": "cron(0 0 * * ? *)"},
        {"iot.stages.staging.backup.copy": '{"account": "666666666666", "vaultName": "v_1-x", "retentionDays": 1}'},
    ],
)
def test_backup_settings_at_their_limits_are_accepted(override: dict[str, str]) -> None:
    _load(**override)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            {"iot.stages.dev.backup.retentionDays": "0"},
            "stage 'dev': backup.retentionDays: must be between 1 and 36500",
        ),
        ({"iot.stages.dev.backup.retentionDays": "36501"}, "stage 'dev': backup.retentionDays: must be between 1"),
        ({"iot.stages.dev.backup.schedule": "rate(1 day)"}, "stage 'dev': backup.schedule: must be once a day at"),
        ({"iot.stages.dev.backup.schedule": "cron(0 3 * * ?)"}, "stage 'dev': backup.schedule: must be once a day at"),
        ({"iot.stages.dev.backup.schedule": "cron(0 3 ? * SUN *)"}, "stage 'dev': backup.schedule: must be once a day"),
        ({"iot.stages.dev.backup.schedule": "cron(0 24 * * ? *)"}, "stage 'dev': backup.schedule: must be once a day"),
        ({"iot.stages.dev.backup.schedule": "cron(0 */6 * * ? *)"}, "stage 'dev': backup.schedule: must be once a day"),
        (
            {"iot.stages.prod.backup.retentionDays": "6"},
            "stage 'prod': backup.retentionDays (6) must lie within the vault lock's minRetentionDays (7)",
        ),
        (
            {"iot.stages.prod.backup.retentionDays": "401"},
            "stage 'prod': backup.retentionDays (401) must lie within the vault lock's minRetentionDays (7) and "
            "maxRetentionDays (400)",
        ),
        (
            {"iot.stages.prod.backup.vaultLock.minRetentionDays": "500"},
            "stage 'prod': backup.vaultLock.minRetentionDays (500) must not exceed maxRetentionDays (400)",
        ),
        (
            {"iot.stages.prod.backup.vaultLock.changeableForDays": "2"},
            "stage 'prod': backup.vaultLock.changeableForDays: must be between 3 and 36500",
        ),
        ({"iot.stages.prod.backup.vaultLock": "null"}, "stage 'prod': backup.vaultLock: prod must lock its vault"),
        ({"iot.stages.prod.backup.copy": "null"}, "stage 'prod': backup.copy: prod must copy its recovery points"),
        (
            {"iot.stages.prod.backup.copy.account": "444444444444"},
            "stage 'prod': backup.copy.account: must be a separate account from the stage's own (444444444444)",
        ),
        ({"iot.stages.prod.backup.copy.account": "5555"}, "stage 'prod': backup.copy.account: must be a 12-digit"),
        (
            {"iot.stages.prod.backup.copy.vaultName": "a b"},
            "stage 'prod': backup.copy.vaultName: must be a backup vault",
        ),
        (
            {"iot.stages.prod.backup.copy.retentionDays": "0"},
            "stage 'prod': backup.copy.retentionDays: must be between",
        ),
    ],
)
def test_a_bad_backup_setting_names_stage_field_and_problem(override: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        _load(**override)
    assert message in str(error.value)


def test_a_stage_without_a_backup_policy_fails() -> None:
    context = copy.deepcopy(committed_context())
    del context["iot"]["stages"]["dev"]["backup"]
    with pytest.raises(ConfigError, match=r"stage 'dev': backup: missing"):
        load_platform_config(context)


def test_only_staging_runs_the_fault_injection_experiment(platform_config: PlatformConfig) -> None:
    experiment = platform_config.stage("staging").fault_injection
    assert experiment is not None
    assert (experiment.invocation_error_percent, experiment.added_latency_percent) == (10, 20)
    assert [platform_config.stage(name).fault_injection for name in ("dev", "prod")] == [None, None]


FAULTS = "iot.stages.staging.faultInjection"
AN_EXPERIMENT = json.dumps(
    {"durationMinutes": 2, "invocationErrorPercent": 5, "addedLatencyMilliseconds": 500, "addedLatencyPercent": 10}
)


@pytest.mark.parametrize(
    "override",
    [
        {f"{FAULTS}.durationMinutes": "1"},
        {f"{FAULTS}.durationMinutes": "30"},
        {f"{FAULTS}.invocationErrorPercent": "1"},
        # staging retries 3 times: 17 % of invocations failing exhausts 0.17**4 = 0.084 % of batches, under 0.1 %
        {f"{FAULTS}.invocationErrorPercent": "17"},
        {f"{FAULTS}.addedLatencyMilliseconds": "1"},
        {f"{FAULTS}.addedLatencyMilliseconds": "60000"},
        {f"{FAULTS}.addedLatencyPercent": "100"},
        {f"{FAULTS}.recoveryMinutes": "30"},
        {"iot.stages.dev.faultInjection": AN_EXPERIMENT},
    ],
)
def test_fault_injection_settings_at_their_limits_are_accepted(override: dict[str, str]) -> None:
    _load(**override)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({f"{FAULTS}.durationMinutes": "0"}, "faultInjection.durationMinutes: must be between 1 and 30"),
        ({f"{FAULTS}.durationMinutes": "31"}, "faultInjection.durationMinutes: must be between 1 and 30"),
        ({f"{FAULTS}.invocationErrorPercent": "0"}, "faultInjection.invocationErrorPercent: must be between 1 and 100"),
        (
            {f"{FAULTS}.invocationErrorPercent": "18"},  # 0.18**4 = 0.105 %
            "faultInjection.invocationErrorPercent (18) with ingest.retryAttempts (3) fails every attempt of 0.10% of "
            "the batches, over 0.1%",
        ),
        (
            {f"{FAULTS}.invocationErrorPercent": "10", "iot.stages.staging.ingest.retryAttempts": "1"},
            "faultInjection.invocationErrorPercent (10) with ingest.retryAttempts (1) fails every attempt of 1.00%",
        ),
        ({f"{FAULTS}.addedLatencyMilliseconds": "0"}, "faultInjection.addedLatencyMilliseconds: must be between 1"),
        ({f"{FAULTS}.addedLatencyMilliseconds": "60001"}, "faultInjection.addedLatencyMilliseconds: must be between"),
        ({f"{FAULTS}.addedLatencyPercent": "101"}, "faultInjection.addedLatencyPercent: must be between 1 and 100"),
        ({f"{FAULTS}.recoveryMinutes": "0"}, "faultInjection.recoveryMinutes: must be between 1 and 30"),
        (
            {"iot.stages.prod.faultInjection": AN_EXPERIMENT},
            "stage 'prod': faultInjection: prod runs no experiment",
        ),
    ],
)
def test_a_bad_fault_injection_setting_names_stage_field_and_problem(override: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        _load(**override)
    assert message in str(error.value)
