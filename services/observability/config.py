"""The observability service's settings for one stage (``iot.stages.<stage>.observability``), owned by iot-sre."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import between, checked, emails, non_negative, positive

MAX_SILENCE_MINUTES = 1440  # an alarm's periods may span a day at most


def _silence_minutes(value: int | None) -> str | None:
    if value is None or 1 <= value <= MAX_SILENCE_MINUTES:
        return None
    return f"must be between 1 and {MAX_SILENCE_MINUTES} minutes, or left out for a stage without steady traffic"


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
    # A stage with steady producers alarms when the stream receives nothing for this long; left out (None) where
    # traffic comes and goes (dev, staging: the pipeline's smoke tests).
    ingest_silence_minutes: int | None = checked(_silence_minutes, default=None)
    # The stage's monthly AWS Budget and the percentages of it that notify.
    monthly_budget_usd: int = checked(positive)
    budget_alert_percents: tuple[int, ...] = checked(_budget_percents)
