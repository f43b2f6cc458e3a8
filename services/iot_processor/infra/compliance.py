"""Every cdk-nag acknowledgement of the ingest service, each on the narrowest construct, with why it is safe."""

from __future__ import annotations

from services.iot_processor.infra.stream import ReadingsStream
from shared.infra.compliance import acknowledge


def acknowledge_findings(*, readings: ReadingsStream) -> None:
    acknowledge(
        readings.stream,
        "AwsSolutions-KDS3",
        "A customer-managed key is stricter than aws/kinesis: its key policy is ours and names who may decrypt, "
        "while aws/kinesis lets any principal of the account with Kinesis access read the stream; it rotates yearly.",
    )
