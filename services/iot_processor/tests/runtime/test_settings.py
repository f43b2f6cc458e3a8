"""The processor's environment: every variable validated with an error that names it; the AWS client settings."""

from __future__ import annotations

import pytest

from services.iot_processor.runtime.clients import AwsClients
from services.iot_processor.runtime.settings import Settings, SettingsError, encode_bounds, parse_bounds
from shared.readings.anomalies import AnomalyBounds

ENVIRONMENT = {
    "TABLE_NAME": "readings",
    "PROCESSED_BUCKET": "processed",
    "ALERT_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:alerts",
    "ANOMALY_BOUNDS": '{"temperature": {"upper": 100}, "level": {"lower": -5, "upper": 7.5}}',
    "TTL_DAYS": "7",
    "ANOMALY_TTL_DAYS": "90",
    "ANOMALY_INDEX_SHARDS": "1",
}


def test_a_complete_environment_is_read_as_typed_settings() -> None:
    settings = Settings.from_environment({**ENVIRONMENT, "WEBHOOK_SECRET_ARN": "arn:secret"})
    assert settings == Settings(
        table_name="readings",
        processed_bucket="processed",
        alert_topic_arn="arn:aws:sns:eu-west-1:123456789012:alerts",
        webhook_secret_arn="arn:secret",  # pragma: allowlist secret (a fake ARN)
        anomaly_bounds={"temperature": AnomalyBounds(upper=100), "level": AnomalyBounds(lower=-5, upper=7.5)},
        ttl_days=7,
        anomaly_ttl_days=90,
        anomaly_index_shards=1,
    )


@pytest.mark.parametrize("value", [None, ""])
def test_the_webhook_is_optional(value: str | None) -> None:
    environment = dict(ENVIRONMENT) if value is None else {**ENVIRONMENT, "WEBHOOK_SECRET_ARN": value}
    assert Settings.from_environment(environment).webhook_secret_arn is None


@pytest.mark.parametrize("name", sorted(ENVIRONMENT))
@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_missing_or_blank_variable_is_named(name: str, value: str | None) -> None:
    environment = {key: text for key, text in ENVIRONMENT.items() if key != name}
    if value is not None:
        environment[name] = value
    with pytest.raises(SettingsError, match=f"^environment variable {name} is not set$"):
        Settings.from_environment(environment)


def test_surrounding_blanks_are_ignored() -> None:
    assert Settings.from_environment({**ENVIRONMENT, "TABLE_NAME": " readings\n"}).table_name == "readings"


@pytest.mark.parametrize("name", ["TTL_DAYS", "ANOMALY_TTL_DAYS", "ANOMALY_INDEX_SHARDS"])
@pytest.mark.parametrize("value", ["0", "-1", "1.5", "seven", "0x10"])
def test_counts_must_be_positive_integers(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^environment variable {name} must be a positive integer, got '{value}'$"):
        Settings.from_environment({**ENVIRONMENT, name: value})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "ANOMALY_BOUNDS is not JSON: "),
        ("[1, 2]", "ANOMALY_BOUNDS must be a JSON object of sensor type -> {lower, upper}"),
        ('{"t": 5}', "ANOMALY_BOUNDS['t'] must be an object with lower and/or upper"),
        ('{"t": {"max": 5}}', "ANOMALY_BOUNDS['t'] must be an object with lower and/or upper"),
        ('{"t": {"upper": "5"}}', "ANOMALY_BOUNDS['t'] limits must be numbers"),
        ('{"t": {"upper": true}}', "ANOMALY_BOUNDS['t'] limits must be numbers"),
        ('{"t": {"lower": null}}', "ANOMALY_BOUNDS['t'] limits must be numbers"),
    ],
)
def test_invalid_bounds_are_refused_with_the_sensor_type_named(raw: str, message: str) -> None:
    with pytest.raises(SettingsError) as error:
        parse_bounds(raw)
    assert str(error.value).startswith(message)


def test_bounds_are_written_without_absent_limits_and_read_back_unchanged() -> None:
    bounds = {"vibration": AnomalyBounds(upper=5), "level": AnomalyBounds(lower=-5.5), "any": AnomalyBounds()}
    assert encode_bounds(bounds) == '{"any": {}, "level": {"lower": -5.5}, "vibration": {"upper": 5}}'
    assert parse_bounds(encode_bounds(bounds)) == bounds


def test_aws_clients_time_out_quickly_and_retry_adaptively(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    clients = AwsClients()
    for client, service in ((clients.dynamodb, "dynamodb"), (clients.s3, "s3"), (clients.sns, "sns")):
        assert client.meta.service_model.service_name == service
        options = {name: getattr(client.meta.config, name) for name in ("connect_timeout", "read_timeout", "retries")}
        assert options == {
            "connect_timeout": 2,
            "read_timeout": 5,
            "retries": {"mode": "adaptive", "total_max_attempts": 6},  # max_attempts 5 = 5 retries after the first
        }
    assert clients.dynamodb is clients.dynamodb  # created once per execution environment
