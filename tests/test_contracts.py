"""Every name that crosses a service boundary is spelled once, in the owning service's contract.py.

Stack outputs, the SSM keys of shared values, the processor's metric names and the variables in which the pipeline
passes outputs to its steps: a literal copy of one anywhere else in the code (tests excepted: they spell names
out on purpose, to catch a renamed constant) fails here, naming the file, the line and the constant to use.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.iot_archive import contract as archive
from services.iot_processor import contract as ingest
from services.observability import contract as observability
from shared.infra.naming import output_variable
from shared.repository import REPO_ROOT

CONTRACTS = (ingest, archive, observability)
CODE = ("pipeline_app.py", "pipeline", "stages", "services", "shared", "tools")
# Also AWS's own names: a CloudFormation property of AWS::Lambda::* resources, which tools read from templates; the
# DynamoDB API's parameter, which the emulator reads from requests; and the dimensions under which Lambda, DynamoDB,
# Kinesis and Firehose publish their metrics (the local loops publish them).
AWS_VOCABULARY = frozenset({"FunctionName", "TableName", "StreamName", "DeliveryStreamName"})


def contract_names() -> dict[str, str]:
    """Each name a contract declares -> how code should spell it."""
    names: dict[str, str] = {}
    for contract in CONTRACTS:
        service = contract.__name__.split(".")[1]
        for enum_name in ("Output", "SharedKey", "Metric"):
            for member in getattr(contract, enum_name, ()):
                names[str(member)] = f"{service} contract.{enum_name}.{member.name}"
        for output in contract.Output:
            names[output_variable(contract.SERVICE, output)] = (
                f"output_variable({service} contract.SERVICE, contract.Output.{output.name})"
            )
    return names


def code_files() -> Iterator[Path]:
    for root in CODE:
        path = REPO_ROOT / root
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            relative = file.relative_to(REPO_ROOT)
            if "tests" in relative.parts or relative.name in ("contract.py", "testing.py"):
                continue
            yield file


def literal_copies(source: str, names: dict[str, str]) -> list[tuple[int, str]]:
    return [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
    ]


def test_no_code_outside_a_contract_spells_a_name_the_contract_declares() -> None:
    names = {name: spelling for name, spelling in contract_names().items() if name not in AWS_VOCABULARY}
    copies = [
        f"{file.relative_to(REPO_ROOT)}:{line}: {value!r}, use {names[value]}"
        for file in code_files()
        for line, value in literal_copies(file.read_text(encoding="utf-8"), names)
    ]
    assert not copies, "\n".join(copies)


def test_the_makefile_and_workflows_pass_no_output_variable_by_name() -> None:
    """The steps read the variables themselves (--from-environment); a target that spells one would go stale."""
    variables = {name for name in contract_names() if "_" in name and name.isupper()}
    texts = {
        path.relative_to(REPO_ROOT): path.read_text(encoding="utf-8")
        for path in [REPO_ROOT / "Makefile", *sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))]
    }
    assert not [(str(path), name) for path, text in texts.items() for name in variables if name in text]


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ('x = outputs["StreamName"]', [(1, "StreamName")]),
        ('key = "stream-arn"', [(1, "stream-arn")]),
        ('os.environ["INGEST_SMOKETESTROLEARN"]', [(1, "INGEST_SMOKETESTROLEARN")]),
        ('metric("ReadingsFailed")', [(1, "ReadingsFailed")]),
        ("x = contract.Output.STREAM_NAME", []),
        ('doc = "the StreamName output"', []),
    ],
)
def test_the_scan_finds_a_literal_copy_and_only_that(source: str, found: list[tuple[int, str]]) -> None:
    assert literal_copies(source, contract_names()) == found


def test_the_names_come_from_every_contract() -> None:
    names = contract_names()
    assert {"StreamName", "RawBucketName", "CompositeAlarmName", "stream-arn", "raw-bucket-name"} <= names.keys()
    assert {"ReadingsFailed", "INGEST_SMOKETESTROLEARN", "OBSERVABILITY_COMPOSITEALARMNAME"} <= names.keys()
