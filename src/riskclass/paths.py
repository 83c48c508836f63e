"""Where the repository is: every stage, notebook and command resolves its paths from the repository root.

JupyterLab starts a notebook's kernel in ``notebooks/`` and a user may call the CLI from any folder;
both find the root by walking up to the folder that holds ``params.yaml`` and ``dvc.yaml``.
"""

from __future__ import annotations

import os
from pathlib import Path

MARKERS = ("params.yaml", "dvc.yaml")


class NotInRepository(FileNotFoundError):
    """Raised when no folder at or above the start holds the repository's markers."""


def repo_root(start: Path | str | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) holding params.yaml and dvc.yaml."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if all((folder / m).is_file() for m in MARKERS):
            return folder
    raise NotInRepository(
        f"{here}: not inside a riskclass repository (no folder at or above it holds {' and '.join(MARKERS)}); "
        "cd into the repository or pass --params"
    )


def enter_repo_root(start: Path | str | None = None) -> Path:
    """Change the working directory to the repository root (notebooks call this first) and return it."""
    from riskclass.io import apply_umask

    root = repo_root(start)
    os.chdir(root)
    apply_umask()  # the permission policy for everything the notebook writes (io.py)
    return root
