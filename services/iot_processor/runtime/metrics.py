"""The processor's metrics, emitted only as the contract declares them (``contract.DECLARED_METRICS``).

Namespace and service come from the contract, not from Lambda's environment: what the alarms and the dashboard read
is fixed in one place, and services/iot_processor/tests/test_contract.py checks the EMF output against it.
"""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from services.iot_processor.contract import DECLARED_METRICS, METRICS_NAMESPACE, METRICS_SERVICE, Metric


def processor_metrics() -> Metrics:
    return Metrics(namespace=METRICS_NAMESPACE, service=METRICS_SERVICE)


def emit(metrics: Metrics, metric: Metric, value: float) -> None:
    """Add one value of a declared metric, in its declared unit."""
    metrics.add_metric(name=metric, unit=MetricUnit(DECLARED_METRICS[metric].unit), value=value)
