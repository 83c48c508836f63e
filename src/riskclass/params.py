"""Loading ``params.yaml``: the single source of every tunable number."""

from __future__ import annotations

from pathlib import Path

import yaml

DEFAULT_PARAMS = Path("params.yaml")


def load_params(path: Path | str = DEFAULT_PARAMS) -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: parameters file not found (run from the repository root or pass --params)")
    with open(path, encoding="utf-8") as fh:
        params = yaml.safe_load(fh)
    for section in ("city", "synth", "ingest"):
        if section not in params:
            raise ValueError(f"{path}: missing section '{section}'")
    return params
