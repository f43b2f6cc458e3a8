"""What the observability service promises everyone else: the outputs the pipeline's bake step reads.

No CDK and no AWS clients here, so anything may import it. Nothing outside services/observability imports any
other module of the service.
"""

from __future__ import annotations

SERVICE = "observability"
OWNER_TEAM = "iot-sre"

# The stack output naming the composite alarm (any data-path alarm in ALARM): the bake watches it.
COMPOSITE_ALARM_OUTPUT = "CompositeAlarmName"
