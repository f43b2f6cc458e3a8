"""Names a person has to find in the console: alarms, the dashboard, the budget of one stage."""

from __future__ import annotations

from shared.infra.naming import PLATFORM


def stage_resource_name(stage: str, what: str) -> str:
    """``iot-prod-processor-iterator-age``: the stage first, then what it is about (for alarms: the symptom)."""
    return f"{PLATFORM}-{stage}-{what}"
