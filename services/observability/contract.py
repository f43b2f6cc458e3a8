"""What the observability service promises everyone else: the outputs the pipeline's steps read.

No CDK and no AWS clients here, so anything may import it. Nothing outside services/observability imports any
other module of the service.
"""

from __future__ import annotations

from enum import StrEnum

SERVICE = "observability"
OWNER_TEAM = "iot-sre"


class Output(StrEnum):
    """The observability stack's outputs (the pipeline's steps read them as ``OBSERVABILITY_<OUTPUT>``, in capitals).
    The bake watches the composite alarm: any data-path alarm in ALARM."""

    OPS_TOPIC_ARN = "OpsTopicArn"
    DASHBOARD_NAME = "DashboardName"
    COMPOSITE_ALARM_NAME = "CompositeAlarmName"
