"""What the observability service promises everyone else: the outputs the pipeline's steps read.

No CDK and no AWS clients here, so anything may import it. Nothing outside services/observability imports any
other module of the service.
"""

from __future__ import annotations

from enum import StrEnum

from services.iot_archive import contract as archive
from services.iot_processor import contract as ingest
from shared.infra.naming import parameter_name, stack_name

SERVICE = "observability"
OWNER_TEAM = "iot-sre"
# The services whose stacks make up a stage, in deploy order: the drift check (the stage's Lambda and `make drift`)
# watches each of their stacks.
STAGE_SERVICES = (ingest.SERVICE, archive.SERVICE, SERVICE)


# What a stage runs: the pipeline's last step of the stage writes it (tools/steps/record_deployment.py) through the
# stage's smoke-test role, which this service's stack lets write that parameter alone; `make environments` reads it.
DEPLOYMENT_RECORD_KEY = "deployment-record"


def deployment_record_parameter(stage: str) -> str:
    """``/iot/<stage>/observability/deployment-record``: the SSM parameter that holds what ``stage`` runs."""
    return parameter_name(stage, SERVICE, DEPLOYMENT_RECORD_KEY)


def drift_checked_stacks(stage: str) -> tuple[str, ...]:
    """``iot-<stage>-ingest``, ``-archive``, ``-observability``: every stack the drift check of ``stage`` watches."""
    return tuple(stack_name(stage, service) for service in STAGE_SERVICES)


class Output(StrEnum):
    """The observability stack's outputs (the pipeline's steps read them as ``OBSERVABILITY_<OUTPUT>``, in capitals).
    The bake watches the composite alarm: any data-path alarm in ALARM."""

    OPS_TOPIC_ARN = "OpsTopicArn"
    DASHBOARD_NAME = "DashboardName"
    COMPOSITE_ALARM_NAME = "CompositeAlarmName"
    # only where the stage runs the fault injection experiment (the pipeline's step after the smoke test)
    EXPERIMENT_TEMPLATE_ID = "ExperimentTemplateId"
    EXPERIMENT_STOP_ALARM_NAME = "ExperimentStopAlarmName"  # the experiment's stop condition
    EXPERIMENT_RAISED_ALARM_NAMES = "ExperimentRaisedAlarmNames"  # comma-separated: what its faults raise on purpose
