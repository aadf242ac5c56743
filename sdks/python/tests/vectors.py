"""Loads the shared vectors from spec/vectors/ by relative path (never a copy)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SPEC_DIR = Path(__file__).resolve().parents[3] / "spec"
VECTORS_DIR = SPEC_DIR / "vectors"


def vector_files() -> list[str]:
    """Every vector file of spec/vectors/, by name without `.json`."""
    return sorted(path.stem for path in VECTORS_DIR.glob("*.json"))


def load_cases(name: str) -> list[dict[str, Any]]:
    data = json.loads((VECTORS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    assert data["name"] == name
    cases: list[dict[str, Any]] = data["cases"]
    return cases
