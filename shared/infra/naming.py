"""Names a person has to find: stacks and the SSM parameters services use to share values."""

from __future__ import annotations

PLATFORM = "iot"


def stack_name(stage: str, service: str) -> str:
    """``iot-prod-ingest``: the CloudFormation stack of one service in one stage."""
    return f"{PLATFORM}-{stage}-{service}"


def pascal_case(name: str) -> str:
    """``archive-freshness`` or ``stream_name`` as ``ArchiveFreshness`` or ``StreamName``: a construct id."""
    return "".join(part.title() for part in name.replace("_", "-").split("-"))


def output_variable(service: str, output: str) -> str:
    """``INGEST_STREAMNAME``: the environment variable in which the pipeline gives its steps a stack output."""
    return f"{service.upper()}_{output.upper()}"


def parameter_name(stage: str, service: str, key: str) -> str:
    """``/iot/prod/ingest/stream-arn``: where a service publishes a value other services of the stage read."""
    return f"/{PLATFORM}/{stage}/{service}/{key}"


def smoke_test_role_name(stage: str) -> str:
    """Fixed, so the pipeline in the tooling account can be allowed to assume exactly this role."""
    return f"{PLATFORM}-{stage}-smoke-test"


def smoke_test_role_arn(stage: str, account: str) -> str:
    return f"arn:aws:iam::{account}:role/{smoke_test_role_name(stage)}"


def topic_rule_name(stage: str) -> str:
    """``iot_prod_readings``: the MQTT topic rule (letters, digits and underscores only, as IoT Core requires)."""
    return f"{PLATFORM}_{stage}_readings"


def device_policy_name(stage: str) -> str:
    """``iot-prod-device-readings``: the IoT policy that device provisioning attaches to each certificate."""
    return f"{PLATFORM}-{stage}-device-readings"


# Where the MQTT topic rule's error action writes, in the failure bucket beside Lambda's failed batches.
MQTT_ERROR_PREFIX = "mqtt-errors/"

# Smoke tests name their runs ``smoke-<hex>``; the synthetic generator names sensors ``synthetic-<run id>-NNNN``.
SMOKE_RUN_PREFIX = "smoke-"
SMOKE_SENSOR_PREFIX = f"synthetic-{SMOKE_RUN_PREFIX}"
