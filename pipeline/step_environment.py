"""The variables the pipeline gives its steps, named once for both sides: pipeline_stack.py sets them, the steps in
tools/steps read them. No CDK here, so a step can import it in CodeBuild.

Stack outputs reach the steps too, each as ``<SERVICE>_<OUTPUT>`` (shared/infra/naming.py, ``output_variable``),
named by the services' contracts.
"""

from __future__ import annotations

from typing import Final

STAGE_NAME: Final = "STAGE_NAME"
STAGE_ACCOUNT: Final = "STAGE_ACCOUNT"
STAGE_REGION: Final = "STAGE_REGION"
BAKE_MINUTES: Final = "BAKE_MINUTES"
# How long the fault injection step lets the stage's composite alarm stay in ALARM after the experiment.
EXPERIMENT_RECOVERY_MINUTES: Final = "EXPERIMENT_RECOVERY_MINUTES"
LOOKUP_ROLE_ARN: Final = "LOOKUP_ROLE_ARN"
STACKS: Final = "STACKS"  # comma-separated stack names
# What the last step of a stage records (tools/steps/record_deployment.py): the source commit and the execution.
DEPLOYED_COMMIT: Final = "DEPLOYED_COMMIT"
PIPELINE_EXECUTION_ID: Final = "PIPELINE_EXECUTION_ID"
