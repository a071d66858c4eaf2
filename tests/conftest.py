"""Shared test setup: the package under functions/ and the repo root are importable."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "functions"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

FIXTURES = ROOT / "tests" / "fixtures" / "images"
