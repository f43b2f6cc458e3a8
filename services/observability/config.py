"""The observability service's settings for one stage (``iot.stages.<stage>.observability``), owned by iot-sre."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from services.observability.runtime.drift import IgnoreRule
from shared.config import between, checked, emails, non_negative, positive

# EventBridge schedule expressions, at most hourly: a detection takes minutes, and CloudFormation throttles it per
# account. ``rate(1 day)``, ``rate(6 hours)``, or ``cron(minute hours day-of-month month day-of-week year)`` in UTC
# with one fixed minute.
_SCHEDULE = re.compile(r"rate\((1 (hour|day)|([2-9]|[1-9]\d+) (hours|days))\)|cron\([0-5]?\d( \S+){5}\)")
MAX_SILENCE_MINUTES = 1440  # an alarm's periods may span a day at most


def _silence_minutes(value: int | None) -> str | None:
    if value is None or 1 <= value <= MAX_SILENCE_MINUTES:
        return None
    return f"must be between 1 and {MAX_SILENCE_MINUTES} minutes, or left out for a stage without steady traffic"


def _budget_percents(values: tuple[int, ...]) -> str | None:
    if values and all(0 < value <= 1000 for value in values):
        return None
    return f"must be a non-empty list of percentages in (0, 1000], got {list(values)}"


def _schedule(value: str) -> str | None:
    if _SCHEDULE.fullmatch(value):
        return None
    return f"must be rate(N hours|days) or cron(six fields, one fixed minute): at most hourly, got {value!r}"


def _rules(rules: tuple[IgnoreRule | None, ...]) -> str | None:
    """What is wrong with each rule; a rule that could not be built at all (None) was reported already."""
    problems = [
        f"rule {index}: {problem}"
        for index, rule in enumerate(rules)
        if rule is not None
        for problem in rule.problems()
    ]
    return "; ".join(problems) or None


@dataclass(frozen=True, kw_only=True)
class DriftCheckConfig:
    """CloudFormation's drift detection on the stage's stacks (``observability.drift``; docs/runbooks.md)."""

    # When it runs (EventBridge, UTC); daily unless a stage says otherwise.
    schedule: str = checked(_schedule, default="rate(1 day)")
    # Properties AWS changes on its own: {resourceType, propertyPath (a glob over CloudFormation's property path),
    # reason}. A difference a rule matches is not drift.
    ignore: tuple[IgnoreRule, ...] = checked(_rules, default=())


@dataclass(frozen=True, kw_only=True)
class ObservabilityConfig:
    # Who the ops topic e-mails (alarms and the budget).
    ops_emails: tuple[str, ...] = checked(emails, default=())
    # Alarm thresholds; the processor's deployment rolls back on the same error and iterator-age thresholds.
    iterator_age_threshold_seconds: int = checked(positive)
    error_threshold: int = checked(positive)
    throttle_threshold: int = checked(positive)
    quarantine_share_threshold: float = checked(between(0, 1))
    freshness_margin_seconds: int = checked(non_negative)
    # A stage with steady producers alarms when the stream receives nothing for this long; left out (None) where
    # traffic comes and goes (dev, staging: the pipeline's smoke tests).
    ingest_silence_minutes: int | None = checked(_silence_minutes, default=None)
    # The stage's monthly AWS Budget is the cost model's figure for the stage's expected load (stages/cost,
    # docs/cost.md) plus this margin, for what the model leaves out; these percentages of it notify.
    budget_margin_percent: int = checked(between(0, 500))
    budget_alert_percents: tuple[int, ...] = checked(_budget_percents)
    drift: DriftCheckConfig = field(default_factory=DriftCheckConfig)
