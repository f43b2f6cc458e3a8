"""The observability service's settings for one stage (``iot.stages.<stage>.observability``), owned by iot-sre."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import between, checked, emails, non_negative, positive


def _budget_percents(values: tuple[int, ...]) -> str | None:
    if values and all(0 < value <= 1000 for value in values):
        return None
    return f"must be a non-empty list of percentages in (0, 1000], got {list(values)}"


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
    # The stage's monthly AWS Budget is the cost model's figure for the stage's expected load (stages/cost,
    # docs/cost.md) plus this margin, for what the model leaves out; these percentages of it notify.
    budget_margin_percent: int = checked(between(0, 500))
    budget_alert_percents: tuple[int, ...] = checked(_budget_percents)
