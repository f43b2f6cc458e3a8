"""Typed, validated configuration for the pipeline and every stage.

Values live in cdk.json under the ``iot`` context key (camelCase, as CDK context is) and can be
overridden per field on the command line: ``cdk synth -c iot.stages.prod.ingest.shardCount=20``.
Loading turns them into frozen, keyword-only dataclasses; anything malformed fails synth with one
message that names every bad field and the stage it belongs to.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import json
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args, get_origin, get_type_hints

from shared.readings.anomalies import DEFAULT_ANOMALY_BOUNDS, AnomalyBounds

CONTEXT_KEY = "iot"
STAGE_ORDER = ("dev", "staging", "prod")

StreamMode = Literal["provisioned", "on_demand"]
RemovalMode = Literal["destroy", "retain"]
# CodeDeploy's predefined Lambda deployment configurations (how traffic moves from the old version to the new).
TrafficShift = Literal[
    "AllAtOnce",
    "Canary10Percent5Minutes",
    "Canary10Percent10Minutes",
    "Canary10Percent15Minutes",
    "Canary10Percent30Minutes",
    "Linear10PercentEvery1Minute",
    "Linear10PercentEvery2Minutes",
    "Linear10PercentEvery3Minutes",
    "Linear10PercentEvery10Minutes",
]

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_CONNECTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]+$"
)
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9]{1,11}$")
# An MQTT topic filter with exactly one single-level wildcard, the device's segment: sensors/+/readings.
# Plain segments only (no "#", no reserved "$" topics), so the filter is safe inside the rule's SQL string.
_DEVICE_TOPIC_FILTER = re.compile(r"^(?:[A-Za-z0-9_-]+/)*\+(?:/[A-Za-z0-9_-]+)*$")
MQTT_MAX_TOPIC_LEVELS = 8  # AWS IoT allows at most 7 forward slashes in a topic or topic filter


class ConfigError(ValueError):
    """Raised when configuration is missing or malformed; the message names each bad field."""


def _positive(value: float) -> str | None:
    return None if value > 0 else f"must be greater than 0, got {value}"


def _non_negative(value: float) -> str | None:
    return None if value >= 0 else f"must be 0 or more, got {value}"


def _between(low: float, high: float) -> typing.Callable[[float], str | None]:
    def check(value: float) -> str | None:
        return None if low <= value <= high else f"must be between {low} and {high}, got {value}"

    return check


def _matches(pattern: re.Pattern[str], what: str) -> typing.Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if pattern.fullmatch(value) else f"must be {what}, got {value!r}"

    return check


def _emails(values: tuple[str, ...]) -> str | None:
    bad = [value for value in values if not _EMAIL.fullmatch(value)]
    return f"holds malformed e-mail addresses: {bad}" if bad else None


def _ordered_bounds(bounds: Mapping[str, AnomalyBounds]) -> str | None:
    bad = [name for name, b in bounds.items() if b.lower is not None and b.upper is not None and b.lower >= b.upper]
    return f"lower must be below upper for {bad}" if bad else None


def _checked(check: typing.Callable[[Any], str | None], **kwargs: Any) -> Any:
    """A dataclass field whose value is checked by ``check`` when the config is loaded."""
    return field(metadata={"check": check}, **kwargs)


def _device_topic_filter(value: str) -> str | None:
    if not _DEVICE_TOPIC_FILTER.fullmatch(value) or len(value.split("/")) > MQTT_MAX_TOPIC_LEVELS:
        return (
            f"must be an MQTT topic filter of at most {MQTT_MAX_TOPIC_LEVELS} levels with exactly one '+' level "
            f"(the device) and letters, digits, '_' or '-' elsewhere, such as 'sensors/+/readings'; got {value!r}"
        )
    return None


@dataclass(frozen=True, kw_only=True)
class MqttConfig:
    """The MQTT front door: an AWS IoT Core topic rule puts readings published on ``topic_filter`` on the stream."""

    enabled: bool
    topic_filter: str = _checked(_device_topic_filter, default="sensors/+/readings")

    @property
    def device_level(self) -> int:
        """The 1-based level of the device's segment, as the rule's ``topic(n)`` function counts it."""
        return self.topic_filter.split("/").index("+") + 1


@dataclass(frozen=True, kw_only=True)
class IngestConfig:
    stream_mode: StreamMode
    shard_count: int = _checked(_positive)
    retention_hours: int = _checked(_between(24, 8760))
    processor_memory_mb: int = _checked(_between(128, 10240))
    batch_size: int = _checked(_between(1, 10000))
    max_batching_window_seconds: int = _checked(_between(0, 300))
    parallelization_factor: int = _checked(_between(1, 10))
    retry_attempts: int = _checked(_between(0, 10000))
    max_record_age_seconds: int = _checked(_between(60, 604800))
    reserved_concurrency: int = _checked(_positive)
    table_ttl_days: int = _checked(_positive)
    warm_write_units_per_second: int = _checked(_non_negative)
    anomaly_index_shards: int = _checked(_between(1, 100), default=16)
    processed_expiration_days: int = _checked(_positive)
    quarantine_expiration_days: int = _checked(_positive)
    alert_emails: tuple[str, ...] = _checked(_emails, default=())
    anomaly_bounds: Mapping[str, AnomalyBounds] = _checked(
        _ordered_bounds, default_factory=lambda: DEFAULT_ANOMALY_BOUNDS
    )
    mqtt: MqttConfig = field(default_factory=lambda: MqttConfig(enabled=False))


@dataclass(frozen=True, kw_only=True)
class ArchiveConfig:
    buffer_interval_seconds: int = _checked(_between(0, 900))
    buffer_size_mib: int = _checked(_between(64, 128))
    infrequent_access_after_days: int = _checked(_between(30, 36500))
    archive_after_days: int = _checked(_positive)
    expiration_days: int = _checked(_positive)


@dataclass(frozen=True, kw_only=True)
class ObservabilityConfig:
    ops_emails: tuple[str, ...] = _checked(_emails, default=())
    iterator_age_threshold_seconds: int = _checked(_positive)
    error_threshold: int = _checked(_positive)
    throttle_threshold: int = _checked(_positive)
    quarantine_share_threshold: float = _checked(_between(0, 1))
    freshness_margin_seconds: int = _checked(_non_negative)
    monthly_budget_usd: int = _checked(_positive)
    budget_alert_percents: tuple[int, ...] = _checked(
        lambda values: (
            None
            if values and all(0 < v <= 1000 for v in values)
            else f"must be a non-empty list of percentages in (0, 1000], got {list(values)}"
        )
    )


@dataclass(frozen=True, kw_only=True)
class DeliveryConfig:
    """How the pipeline promotes this stage: the processor's traffic shift and the bake after the smoke test."""

    traffic_shift: TrafficShift = "AllAtOnce"
    # The stage's composite alarm must stay out of ALARM this long after the smoke test (0: no bake, as in prod).
    # At most 55: the bake reads the alarm through one session of the smoke-test role, which lasts an hour.
    bake_minutes: int = _checked(_between(0, 55), default=0)


@dataclass(frozen=True, kw_only=True)
class StageConfig:
    name: str = _checked(_matches(_STAGE_NAME, "2-12 lowercase letters or digits, starting with a letter"))
    account: str = _checked(_matches(_ACCOUNT, "a 12-digit AWS account id"))
    region: str = _checked(_matches(_REGION, "an AWS region such as eu-west-1"))
    removal_policy: RemovalMode
    cost_center: str = _checked(lambda value: None if value.strip() else "must not be empty")
    ingest: IngestConfig
    archive: ArchiveConfig
    observability: ObservabilityConfig
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)

    @property
    def is_production(self) -> bool:
        return self.name == "prod"

    def cross_field_errors(self) -> list[str]:
        errors = []
        if self.is_production and self.removal_policy == "destroy":
            errors.append("removalPolicy: prod must retain its data, got 'destroy'")
        retention_seconds = self.ingest.retention_hours * 3600
        if self.ingest.max_record_age_seconds >= retention_seconds:
            errors.append(
                f"ingest.maxRecordAgeSeconds ({self.ingest.max_record_age_seconds}) must stay below the stream "
                f"retention ({retention_seconds} s), or records expire before they reach the failure destination"
            )
        if self.archive.archive_after_days <= self.archive.infrequent_access_after_days:
            errors.append("archive.archiveAfterDays must be later than archive.infrequentAccessAfterDays")
        if self.archive.expiration_days <= self.archive.archive_after_days:
            errors.append("archive.expirationDays must be later than archive.archiveAfterDays")
        return errors


@dataclass(frozen=True, kw_only=True)
class PipelineConfig:
    tooling_account: str = _checked(_matches(_ACCOUNT, "a 12-digit AWS account id"))
    region: str = _checked(_matches(_REGION, "an AWS region such as eu-west-1"))
    repository: str = _checked(_matches(_REPOSITORY, "a GitHub repository as owner/name"))
    branch: str = _checked(lambda value: None if value.strip() else "must not be empty")
    connection_arn: str = _checked(_matches(_CONNECTION_ARN, "a CodeConnections connection ARN"))
    # Who hears that the pipeline failed, waits for an approval, or finished a prod deploy.
    notification_emails: tuple[str, ...] = _checked(_emails, default=())


@dataclass(frozen=True, kw_only=True)
class PlatformConfig:
    pipeline: PipelineConfig
    stages: tuple[StageConfig, ...]

    def stage(self, name: str) -> StageConfig:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise ConfigError(f"stage {name!r} is not configured (configured: {[s.name for s in self.stages]})")


def load_platform_config(context: Mapping[str, Any]) -> PlatformConfig:
    """Build the platform config from CDK context: the ``iot`` object plus ``iot.<path>`` overrides."""
    raw = _apply_overrides(_as_object(context.get(CONTEXT_KEY), CONTEXT_KEY), context)
    errors: list[str] = []
    pipeline = _build(PipelineConfig, raw.get("pipeline"), "pipeline.", errors)
    stages_raw = _as_object(raw.get("stages", {}), "stages")
    missing = [name for name in STAGE_ORDER if name not in stages_raw]
    errors.extend(f"stage {name!r}: missing from iot.stages" for name in missing)
    stages = []
    for name, stage_raw in stages_raw.items():
        stage_errors: list[str] = []
        stage = _build(StageConfig, {"name": name, **_as_object(stage_raw, f"stages.{name}")}, "", stage_errors)
        if stage is not None:
            stage_errors.extend(stage.cross_field_errors())
            stages.append(stage)
        errors.extend(f"stage {name!r}: {error}" for error in stage_errors)
    if errors:
        raise ConfigError("invalid iot configuration in cdk.json / -c overrides:\n  - " + "\n  - ".join(errors))
    assert pipeline is not None  # errors would be non-empty otherwise
    ordered = sorted(stages, key=lambda s: STAGE_ORDER.index(s.name) if s.name in STAGE_ORDER else len(STAGE_ORDER))
    return PlatformConfig(pipeline=pipeline, stages=tuple(ordered))


def _as_object(value: Any, path: str) -> dict[str, Any]:
    if isinstance(value, str):  # `-c iot='{...}'` arrives as a JSON string
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: expected an object, got {type(value).__name__}")
    return value


def _apply_overrides(raw: dict[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """Apply ``-c iot.stages.dev.account=...`` style overrides onto a deep copy of the base object."""
    merged: dict[str, Any] = json.loads(json.dumps(raw))
    for key, value in context.items():
        if not key.startswith(CONTEXT_KEY + "."):
            continue
        *parents, leaf = key[len(CONTEXT_KEY) + 1 :].split(".")
        node = merged
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {key}: {part!r} is not an object")
        node[leaf] = value
    return merged


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _build(cls: type[Any], raw: Any, path: str, errors: list[str]) -> Any:
    """Create ``cls`` from a camelCase mapping, appending one message per bad field to ``errors``."""
    if not isinstance(raw, dict):
        errors.append(f"{path.rstrip('.') or cls.__name__}: expected an object, got {type(raw).__name__}")
        return None
    hints = get_type_hints(cls)
    fields = {_camel(f.name): f for f in dataclasses.fields(cls)}
    errors_before = len(errors)
    errors.extend(f"{path}{key}: unknown setting" for key in raw if key not in fields)
    values: dict[str, Any] = {}
    for key, spec in fields.items():
        where = f"{path}{key}"
        if key not in raw:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                errors.append(f"{where}: missing")
            continue
        value, problem = _coerce(hints[spec.name], raw[key], where, errors)
        if problem is None and "check" in spec.metadata:
            problem = spec.metadata["check"](value)
        if problem is not None:
            errors.append(f"{where}: {problem}")
        values[spec.name] = value
    return cls(**values) if len(errors) == errors_before else None


def _coerce(hint: Any, value: Any, where: str, errors: list[str]) -> tuple[Any, str | None]:
    """Convert one raw value (JSON or a ``-c`` string) to ``hint``; return (value, problem)."""
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in get_args(hint):
        if value is None:
            return None, None
        (hint,) = [arg for arg in get_args(hint) if arg is not type(None)]
        origin = get_origin(hint)
    if dataclasses.is_dataclass(hint):
        built = _build(typing.cast(type, hint), _parse_json(value), where + ".", errors)
        return built, None  # _build reported its own errors
    if origin in (dict, Mapping, collections.abc.Mapping):
        entries = _parse_json(value)
        if not isinstance(entries, dict):
            return None, f"must be an object, got {value!r}"
        value_hint = get_args(hint)[1]
        coerced = {name: _coerce(value_hint, entry, f"{where}.{name}", errors) for name, entry in entries.items()}
        problems = [f"{name}: {problem}" for name, (_, problem) in coerced.items() if problem]
        return (
            (types.MappingProxyType({k: v for k, (v, _) in coerced.items()}), None)
            if not problems
            else (None, problems[0])
        )
    if origin is Literal:
        allowed = get_args(hint)
        return (value, None) if value in allowed else (None, f"must be one of {list(allowed)}, got {value!r}")
    if origin is tuple:
        items = json.loads(value) if isinstance(value, str) and value.startswith("[") else value
        if isinstance(items, str):
            items = [item for item in items.split(",") if item]
        if not isinstance(items, list):
            return None, f"must be a list, got {value!r}"
        item_hint = get_args(hint)[0]
        converted = [_coerce(item_hint, item, where, errors) for item in items]
        problems = [problem for _, problem in converted if problem]
        return (tuple(item for item, _ in converted), None) if not problems else (None, problems[0])
    if hint is bool:
        value = {"true": True, "false": False}.get(value, value) if isinstance(value, str) else value  # -c strings
        return (value, None) if isinstance(value, bool) else (None, f"must be true or false, got {value!r}")
    if hint in (int, float):
        return _number(hint, value)
    if hint is str:
        return (value, None) if isinstance(value, str) else (None, f"must be a string, got {value!r}")
    raise TypeError(f"{where}: unsupported config type {hint}")  # a programming error, not bad input


def _parse_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _number(hint: type, value: Any) -> tuple[Any, str | None]:
    wrong = f"must be {'an integer' if hint is int else 'a number'}, got {value!r}"
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None, wrong
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, wrong
    if hint is int:
        return (value, None) if isinstance(value, int) else (None, wrong)
    return float(value), None


def sandbox_config(config: PlatformConfig, *, like: str, account: str) -> StageConfig:
    """A throw-away copy of stage ``like`` named ``sandbox`` in a developer's ``account``."""
    problem = _matches(_ACCOUNT, "a 12-digit AWS account id")(account)
    if problem:
        raise ConfigError(f"stage 'sandbox': sandboxAccount: {problem}")
    return dataclasses.replace(config.stage(like), name="sandbox", account=account, removal_policy="destroy")
