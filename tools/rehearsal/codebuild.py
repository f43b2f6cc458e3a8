"""A CodeBuild project's buildspec run as CodeBuild runs it: phase by phase, one shell, stopping at the first
command that fails, with the project's variables, the action's resolved variables and its role's credentials.

Install commands that install the locked CLI (``npm install -g aws-cdk@<locked>``) are not run: the locked CLI is
already in ``node_modules`` (its version is checked), and a global install would change this machine.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.node_tools import locked_version
from shared.repository import REPO_ROOT
from tools.rehearsal.pipeline import PHASES, BuildProject

GLOBAL_INSTALL = re.compile(r"npm install -g ((?:@[^/\s]+/)?[^@\s]+)@(\S+)")
# What a build container has whatever the project says: a shell's basics, the locked Node tools, and a way out to the
# package registries (CodeBuild's own network; here this machine's trust store and proxies).
PASSED_THROUGH = (
    "HOME",
    "LANG",
    "TMPDIR",
    "TZ",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "PIP_CERT",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
)


@dataclass(frozen=True, kw_only=True)
class BuildResult:
    exit_code: int
    output: str
    seconds: float
    failed_command: str | None = None


def run_build(
    project: BuildProject, *, directory: Path, environment: Mapping[str, str], timeout: float = 3600
) -> BuildResult:
    started = time.monotonic()
    lines: list[str] = []
    env = {
        **{name: os.environ[name] for name in PASSED_THROUGH if name in os.environ},
        "PATH": f"{REPO_ROOT / 'node_modules' / '.bin'}:{os.environ.get('PATH', '')}",
        "CODEBUILD_SRC_DIR": str(directory),
        **environment,
    }
    for phase in PHASES:
        for command in project.commands.get(phase, []):
            installed = GLOBAL_INSTALL.fullmatch(command)
            if installed:
                package, version = installed.groups()
                if version != locked_version(package):
                    lines.append(f"[{phase}] {command}: package-lock.json locks {package} {locked_version(package)}")
                    return BuildResult(exit_code=1, output="\n".join(lines), seconds=0.0, failed_command=command)
                lines.append(f"[{phase}] {command}: the locked {package} {version} from node_modules")
                continue
            lines.append(f"[{phase}] $ {command}")
            result = subprocess.run(  # noqa: S603 - the buildspec's own command, as CodeBuild runs it
                ["bash", "-c", command],  # noqa: S607
                cwd=directory,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            lines.extend(part for part in (result.stdout.rstrip(), result.stderr.rstrip()) if part)
            if result.returncode != 0:
                return BuildResult(
                    exit_code=result.returncode,
                    output="\n".join(lines),
                    seconds=time.monotonic() - started,
                    failed_command=command,
                )
    return BuildResult(exit_code=0, output="\n".join(lines), seconds=time.monotonic() - started)
