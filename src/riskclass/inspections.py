"""The inspection record store: the snapshot's validated inspections plus the accepted feedback.

Results of our own plans come back through ``riskclass results ingest`` into
``<feedback_dir>/<plan_id>.parquet`` (rows in the contract's ``inspections`` shape). Everything that
reads inspections — the indicators, the cool-off of the next plan, the evaluation — reads them through
``load_inspections`` so that they all see the same records. When the platform's next snapshot carries
the same check again, the snapshot's row wins (same ``inspection_id``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from riskclass import contract


def feedback_files(feedback_dir: Path | None) -> list[Path]:
    if feedback_dir is None or not Path(feedback_dir).is_dir():
        return []
    return sorted(Path(feedback_dir).glob("*.parquet"))


def load_inspections(validated_dir: Path, feedback_dir: Path | None = None) -> pd.DataFrame:
    columns = contract.table("inspections").column_names
    path = Path(validated_dir) / "inspections.parquet"
    if not path.exists():
        raise FileNotFoundError(f"{path}: validated table missing (run `riskclass ingest` first)")
    frames = [pd.read_parquet(path, columns=columns)]
    frames += [pd.read_parquet(f, columns=columns) for f in feedback_files(feedback_dir)]
    frames = [f for f in frames if len(f)] or frames[:1]
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    out["inspection_date"] = out["inspection_date"].astype("datetime64[ms]")
    return out.drop_duplicates("inspection_id", keep="first").reset_index(drop=True)
