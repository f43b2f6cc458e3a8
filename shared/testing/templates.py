"""Reading synthesized CloudFormation templates in infra tests: references and IAM statements."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import Any


def arn(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def ref(logical_id: str) -> dict[str, Any]:
    return {"Ref": logical_id}


def objects_in(logical_id: str, suffix: str = "*") -> dict[str, Any]:
    return {"Fn::Join": ["", [arn(logical_id), f"/{suffix}"]]}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def allows(pattern: str, action: str) -> bool:
    """Whether an IAM action pattern (wildcards, any case) covers ``action``."""
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[Any, ...]

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Statement:
        return cls(raw["Effect"], tuple(as_list(raw["Action"])), tuple(as_list(raw["Resource"])))

    def grants(self, action: str, resource: Any) -> bool:
        return (
            self.effect == "Allow"
            and any(allows(pattern, action) for pattern in self.actions)
            and (resource in self.resources or "*" in self.resources)
        )

    def mentions(self, logical_id: str) -> bool:
        return "*" in self.resources or logical_id in json.dumps(self.resources)
