"""The seed's design, priced by the same model as a comparison row: its settings are data (``seed.json``)."""

from __future__ import annotations

import json
from pathlib import Path

from stages.config import StageConfig, stage_from

SEED_FILE = Path(__file__).with_name("seed.json")


def seed_stage(path: Path = SEED_FILE) -> StageConfig:
    return stage_from(json.loads(path.read_text(encoding="utf-8"))["stage"], name="seed")
