"""The validation examples of docs/producers.md run as written: Python's and JavaScript's, on the published schema."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from shared.json_schema.reading import SCHEMA_PATH
from shared.repository import REPO_ROOT

SECTION = (REPO_ROOT / "docs" / "producers.md").read_text(encoding="utf-8").split("## Validating before you send")[1]
VALID = {"sensor_id": "s-1", "sensor_type": "humidity", "value": 40.5, "timestamp": "2026-11-27T12:00:00Z"}
INVALID = {**VALID, "sensor_id": "s-1\n", "value": 140}  # a trailing newline, and humidity past 100 %


def example(language: str) -> str:
    (code,) = re.findall(rf"```{language}\n(.*?)```", SECTION.split("\n## ")[0], flags=re.DOTALL)
    return str(code)


@pytest.fixture
def schema_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(SCHEMA_PATH, tmp_path / "reading.schema.json")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def python_problems(reading: dict[str, Any]) -> list[str]:
    namespace: dict[str, Any] = {"reading": reading}
    exec(example("python"), namespace)
    problems: list[str] = namespace["problems"]
    return problems


def javascript_problems(reading: dict[str, Any], folder: Path) -> list[str]:
    script = folder / "validate.cjs"
    script.write_text(
        f"const reading = {json.dumps(reading)};\n{example('javascript')}\nconsole.log(JSON.stringify(problems));\n"
    )
    node = shutil.which("node")
    assert node, "Node.js runs the JavaScript example (make install)"
    ran = subprocess.run(
        [node, str(script)],
        capture_output=True,
        text=True,
        check=True,
        env={"NODE_PATH": str(REPO_ROOT / "node_modules")},
    )
    problems: list[str] = json.loads(ran.stdout)
    return problems


def test_the_python_example_accepts_a_reading_and_names_what_is_wrong_with_another(schema_here: Path) -> None:
    assert python_problems(VALID) == []
    problems = python_problems(INVALID)
    assert any(line.startswith("sensor_id: ") for line in problems), problems
    assert any(line.startswith("value: 140 is greater than the maximum of 100") for line in problems), problems


def test_the_javascript_example_accepts_a_reading_and_names_what_is_wrong_with_another(schema_here: Path) -> None:
    assert javascript_problems(VALID, schema_here) == []
    problems = javascript_problems(INVALID, schema_here)
    assert '/sensor_id must match pattern "^[A-Za-z0-9._:@/-]*$"' in problems, problems
    assert "/value must be <= 100" in problems, problems
