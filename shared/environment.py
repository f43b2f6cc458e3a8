"""The stage a service's stacks deploy into: what every service needs to know about its environment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.config import aws_account, aws_region, checked, matches, not_blank

RemovalMode = Literal["destroy", "retain"]
PRODUCTION = "prod"


@dataclass(frozen=True, kw_only=True)
class StageEnvironment:
    name: str = checked(matches(r"[a-z][a-z0-9]{1,11}", "2-12 lowercase letters or digits, starting with a letter"))
    account: str = checked(aws_account)
    region: str = checked(aws_region)
    # What happens to stateful resources (stream, table, buckets, keys) when their stack is deleted.
    removal_policy: RemovalMode
    cost_center: str = checked(not_blank)

    @property
    def is_production(self) -> bool:
        return self.name == PRODUCTION

    def cross_field_errors(self) -> list[str]:
        if self.is_production and self.removal_policy == "destroy":
            return ["removalPolicy: prod must retain its data, got 'destroy'"]
        return []
