"""References in a synthesized template resolved to values, as CloudFormation resolves them at deploy time."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_SUBSTITUTION = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(ValueError):
    """A reference that cannot be resolved: the message names it."""


def resolve(node: Any, *, ref: Callable[[str], str], attribute: Callable[[str, str], str]) -> Any:
    """``node`` with every Ref, Fn::GetAtt, Fn::Join and Fn::Sub replaced by its value. ``ref`` answers a Ref (a
    parameter, a resource or a pseudo parameter), ``attribute`` a resource's attribute; either raises KeyError for a
    name it does not know."""
    if isinstance(node, list):
        return [resolve(item, ref=ref, attribute=attribute) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, value),) = node.items()
        try:
            match key:
                case "Ref":
                    return ref(value)
                case "Fn::GetAtt":
                    logical_id, name = value.split(".", 1) if isinstance(value, str) else value
                    return attribute(logical_id, name)
                case "Fn::Join":
                    separator, parts = value
                    return separator.join(str(resolve(part, ref=ref, attribute=attribute)) for part in parts)
                case "Fn::Sub":
                    return _substitute(value, ref=ref, attribute=attribute)
        except KeyError as error:
            raise TemplateError(f"{key} of {value!r}: {error.args[0]!r} is not known here") from None
        if key.startswith("Fn::"):
            raise TemplateError(f"{key} is not resolved here: {value!r}")
    return {key: resolve(value, ref=ref, attribute=attribute) for key, value in node.items()}


def _substitute(value: Any, *, ref: Callable[[str], str], attribute: Callable[[str, str], str]) -> str:
    text, variables = (value, {}) if isinstance(value, str) else value

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in variables:
            return str(resolve(variables[name], ref=ref, attribute=attribute))
        if "." in name:
            logical_id, attribute_name = name.split(".", 1)
            return attribute(logical_id, attribute_name)
        return ref(name)

    return _SUBSTITUTION.sub(replace, text)
