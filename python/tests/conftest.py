"""Shared fixtures: the repository's installed default models, the conversation fixtures, the CLI binary."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List

import pytest

import copiloot

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"
FIXTURES = REPO / "tests" / "fixtures" / "conversations"
CLI = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug" / "copiloot"


@pytest.fixture(scope="session")
def copilot() -> copiloot.Copilot:
    return copiloot.Copilot(models=MODELS)


@pytest.fixture(scope="session")
def fixture_dicts() -> List[Dict[str, Any]]:
    """The eight Dutch and English fixture conversations as dicts (tests/fixtures/conversations/all.jsonl)."""
    lines = (FIXTURES / "all.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="session")
def cli() -> Path:
    if not CLI.is_file():
        pytest.fail(f"{CLI} is missing; run `bash scripts/setup.sh` (it builds the CLI)")
    return CLI
