"""A stage's fault injection experiment (``iot.stages.<stage>.faultInjection`` in cdk.json), owned by the platform team.

The experiment is defined once, here. ``experiment_actions`` gives the AWS FIS actions, with their parameters, that
the observability stack's experiment template carries (the stage runs it between its smoke test and its bake); the
local chaos run (``make chaos``) applies the same actions, at the same shares, in the local function workers.
No CDK here: the ingest stack (the FIS extension on the processor), the observability stack (the template) and the
tools all read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.config import between, checked

INVOCATION_ERROR = "aws:lambda:invocation-error"
INVOCATION_ADD_DELAY = "aws:lambda:invocation-add-delay"
LAMBDA_TARGET_TYPE = "aws:lambda:function"
FUNCTIONS_TARGET = "Functions"  # the target key of FIS's Lambda actions
# The FIS Lambda extension (a layer AWS publishes per architecture; the processor runs on arm64) reads the faults FIS
# writes under a prefix of an S3 bucket, and runs the function behind its own bootstrap.
EXTENSION_LAYER_PARAMETER = "/aws/service/fis/lambda-extension/AWS-FIS-extension-arm64/1.x.x"
EXTENSION_WRAPPER = "/opt/aws-fis/bootstrap"
CONFIGURATION_PREFIX = "fis-configuration/"
# The extension polls for the faults; with the invocation-error action that skips the function, FIS recommends a
# wait so that an invocation sees the configuration of the moment.
EXTENSION_POLL_MAX_WAIT_MILLISECONDS = 2000
# The share of batches an experiment may exhaust (every retry failing, so the batch goes to the failure destination)
# by chance: above it, the experiment would move readings out of the data path by design.
MAX_EXHAUSTED_BATCH_SHARE = 0.001


def fault_configuration_bucket_name(stage: str, account: str, region: str) -> str:
    """``iot-<stage>-fis-<account>-<region>``: fixed, so the processor, deployed before the experiment's stack, can be
    given it."""
    return f"iot-{stage}-fis-{account}-{region}"


@dataclass(frozen=True, kw_only=True)
class FaultInjectionConfig:
    """The processor's faults for ``duration_minutes``: a share of its invocations fail without running, another
    share starts late. Both actions run side by side."""

    duration_minutes: int = checked(between(1, 30))
    invocation_error_percent: int = checked(between(1, 100))
    # Well under the processor's timeout (120 s): a delay past it would turn into errors, another fault.
    added_latency_milliseconds: int = checked(between(1, 60_000))
    added_latency_percent: int = checked(between(1, 100))
    # After the experiment, how long the stage's alarms get to return to OK before the pipeline's step fails.
    recovery_minutes: int = checked(between(1, 30), default=15)

    def exhausted_batch_share(self, retry_attempts: int) -> float:
        """The share of batches whose every attempt fails: the first and each retry, independently."""
        return float((self.invocation_error_percent / 100) ** (retry_attempts + 1))


@dataclass(frozen=True, kw_only=True)
class FaultAction:
    action_id: str
    parameters: Mapping[str, str]

    @property
    def percent(self) -> int:
        return int(self.parameters["invocationPercentage"])


def experiment_actions(config: FaultInjectionConfig) -> dict[str, FaultAction]:
    """The experiment's actions by name, as FIS takes them (ISO 8601 durations, every parameter a string)."""
    duration = f"PT{config.duration_minutes}M"
    return {
        "InvocationErrors": FaultAction(
            action_id=INVOCATION_ERROR,
            parameters={
                "duration": duration,
                "invocationPercentage": str(config.invocation_error_percent),
                "preventExecution": "true",  # a failed invocation writes nothing: only the retry stores the batch
            },
        ),
        "AddedLatency": FaultAction(
            action_id=INVOCATION_ADD_DELAY,
            parameters={
                "duration": duration,
                "invocationPercentage": str(config.added_latency_percent),
                "startupDelayMilliseconds": str(config.added_latency_milliseconds),
            },
        ),
    }
