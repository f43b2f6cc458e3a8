"""CDK app entry point: the delivery pipeline, or one stage straight into a sandbox account.

cdk synth                                  the pipeline stack (tooling account) and, inside it, every stage
cdk deploy -c sandbox=dev -c sandboxAccount=123456789012 'Sandbox/*'
                                           one stage, configured like ``dev`` but named ``sandbox``,
                                           straight into a developer's account, without the pipeline
"""

from __future__ import annotations

from aws_cdk import App, Environment

from pipeline.config import load_platform_config
from pipeline.pipeline_stack import PipelineStack
from shared.config import ConfigError
from shared.infra.compliance import enable_nag
from stages.config import sandbox_stage
from stages.iot_stage import IotStage


def build_app(app: App, *, with_pipeline: bool = True) -> App:
    """The whole app; ``with_pipeline=False`` leaves out the pipeline (the local run needs only its stage)."""
    context = app.node.get_all_context()
    config = load_platform_config(context)
    if with_pipeline:
        PipelineStack(
            app,
            "IotPipeline",
            stack_name="iot-pipeline",
            description="IoT platform delivery pipeline: GitHub main -> Dev -> Staging -> approval -> Prod",
            env=Environment(account=config.pipeline.tooling_account, region=config.pipeline.region),
            config=config,
        )
    if "sandbox" in context:
        sandbox = sandbox_stage(config.stage(str(context["sandbox"])), account=str(context.get("sandboxAccount", "")))
        IotStage(app, "Sandbox", config=sandbox, smoke_test_account=sandbox.account)
    enable_nag(app)
    return app


if __name__ == "__main__":
    try:
        build_app(App()).synth()
    except ConfigError as error:
        raise SystemExit(f"error: {error}") from None
