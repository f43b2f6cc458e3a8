"""cdk-nag 3.x wiring: which packs run, how a finding is acknowledged, and how acknowledgements are read back.

Packs run through CDK's policy-validation API, so they see every stack of every Stage (Aspects added to
the App do not reach into Stages). An acknowledgement is construct metadata; the validation report
leaves acknowledged findings out, so ``acknowledgements`` walks the construct tree to list them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Stack, Validations
from cdk_nag import AwsSolutionsChecks, NagPack, NIST80053R5Checks, ServerlessChecks
from constructs import Construct, IConstruct

NAG_PACKS: tuple[type[NagPack], ...] = (AwsSolutionsChecks, ServerlessChecks, NIST80053R5Checks)

# The reason for the one finding every role of ours has, written once.
INLINE_POLICY_REASON = (
    "CDK attaches each grant as an inline policy of exactly one role created in the same stack; it is deployed, "
    "reviewed and deleted with that role, which a shared managed policy would not improve."
)


def enable_nag(app: Construct) -> None:
    """Check every stack under ``app`` with every pack; synth fails on any unacknowledged finding."""
    Validations.of(app).add_plugins(*(pack(app) for pack in NAG_PACKS))


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one finding (``AwsSolutions-IAM5[Action::s3:GetObject*]`` style ids) on ``scope`` and below."""
    if len(reason.split()) < 5:
        raise ValueError(f"acknowledgement of {rule_id} at {scope.node.path} needs a reason that says why it is safe")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


@dataclass(frozen=True, kw_only=True)
class Acknowledged:
    scope: str
    rule_id: str
    reason: str


def acknowledgements(root: IConstruct) -> Iterator[Acknowledged]:
    """Every acknowledgement recorded at or below ``root``, in construct-tree order."""
    for node in root.node.find_all():
        for entry in node.node.metadata:
            if entry.type != Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                continue
            for key, reason in dict(entry.data).items():
                # CDK stores keys as "<kind>::<rule id>"; the rule id is what people search for.
                yield Acknowledged(scope=node.node.path, rule_id=key.split("::", 1)[-1], reason=str(reason))


def logical_id(construct: IConstruct) -> str:
    """The logical id of a construct's resource, as cdk-nag prints it inside ids like ``Resource::<Id.Arn>/*``."""
    resource = construct.node.default_child
    assert resource is not None, f"{construct.node.path} has no CloudFormation resource"
    stack = Stack.of(construct)
    return str(stack.resolve(stack.get_logical_id(resource)))  # type: ignore[arg-type]
