"""soci's golden vectors (provenance: README.md here, docs/soci-format.md 6.3)."""

import json
from pathlib import Path

GOLDEN_DIR = Path(__file__).resolve().parent
#: expected.json's vectors by id (G1, G2, U1, M1, P1, P2).
EXPECTED = {v["id"]: v for v in json.loads((GOLDEN_DIR / "expected.json").read_text())["vectors"]}
