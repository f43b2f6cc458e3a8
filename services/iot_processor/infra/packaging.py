"""Builds the processor's Lambda asset without Docker: our runtime code plus every locked dependency.

Dependencies come from ``runtime/requirements.txt`` (exported from uv.lock with hashes by ``make lock``)
as wheels for the Lambda platform (arm64, CPython of the function's runtime). The result is cached under
``build/`` by a hash of everything that goes in, so repeated synths do not reinstall.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from shared.repository import REPO_ROOT

RUNTIME_DIR = REPO_ROOT / "services" / "iot_processor" / "runtime"
REQUIREMENTS = RUNTIME_DIR / "requirements.txt"
LAMBDA_PYTHON_VERSION = "3.14"
LAMBDA_PLATFORM = "aarch64-manylinux2014"
# Only runtime code: the processor, the ingest contract and the shared modules they import; nothing that imports
# CDK, and no test or synthetic-data code (shared/synthetic), so editing test tooling never redeploys the processor.
SOURCE_PACKAGES = (Path("services/iot_processor/runtime"), Path("shared/readings"), Path("shared/kinesis"))
SOURCE_MODULES = (Path("services/iot_processor/contract.py"),)
PACKAGE_MARKERS = (Path("services/__init__.py"), Path("services/iot_processor/__init__.py"), Path("shared/__init__.py"))
HANDLER = "services.iot_processor.runtime.handler.lambda_handler"


def source_files() -> list[Path]:
    files = [REQUIREMENTS, *(REPO_ROOT / path for path in (*PACKAGE_MARKERS, *SOURCE_MODULES))]
    for package in SOURCE_PACKAGES:
        files.extend(sorted((REPO_ROOT / package).glob("*.py")))
    return files


def bundle_hash() -> str:
    digest = hashlib.sha256(f"{LAMBDA_PYTHON_VERSION}|{LAMBDA_PLATFORM}".encode())
    for path in source_files():
        digest.update(str(path.relative_to(REPO_ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_bundle(build_root: Path = REPO_ROOT / "build") -> Path:
    """The asset directory for the current sources, built once per content hash."""
    target = build_root / f"processor-{bundle_hash()[:20]}"
    if (target / ".complete").exists():
        return target
    build_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="processor-", dir=build_root))
    subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [
            sys.executable, "-m", "uv", "pip", "install", "--quiet", "--require-hashes", "--no-deps",
            "--only-binary", ":all:", "--python-platform", LAMBDA_PLATFORM,
            "--python-version", LAMBDA_PYTHON_VERSION, "--target", str(staging), "-r", str(REQUIREMENTS),
        ],
        check=True,
    )  # fmt: skip
    for path in source_files()[1:]:
        destination = staging / path.relative_to(REPO_ROOT)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
    (staging / ".complete").write_text(HANDLER + "\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target
