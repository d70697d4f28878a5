"""The decision engine's tests need neither Django nor a database."""

import sys
from pathlib import Path

# Make ``decision`` importable however pytest is started (plain ``pytest`` or ``python -m``).
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
