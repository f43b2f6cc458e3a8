"""The stage's smoke-test role (created by the ingest stack), as stacks deployed after it see it.

Each stack grants this role read on what it owns, at the narrowest resource, so the smoke test and the bake
check from the tooling account can reach exactly the resources of their run and nothing else.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from constructs import Construct

from shared.infra.compliance import INLINE_POLICY_REASON, acknowledge
from shared.infra.naming import smoke_test_role_name


def grant_smoke_test_role(
    scope: Construct, construct_id: str, *, stage: str, statements: list[iam.PolicyStatement]
) -> iam.Policy:
    """One policy of ``statements`` attached to the stage's smoke-test role by its fixed name."""
    role = iam.Role.from_role_name(scope, f"{construct_id}Role", smoke_test_role_name(stage))
    policy = iam.Policy(scope, construct_id, roles=[role], statements=statements)
    acknowledge(policy, "NIST.800.53.R5-IAMNoInlinePolicy", INLINE_POLICY_REASON)
    return policy
