"""Where prepared benchmark stores live by default.

``$SSNENAS_DATA`` wins; otherwise a per-user cache folder, ``$XDG_CACHE_HOME/ssnenas`` or
``~/.cache/ssnenas``. ``ssnenas data prepare`` writes to ``data_home()/<benchmark>-<dataset>`` unless
``--out`` says otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "SSNENAS_DATA"


def data_home() -> Path:
    """The root folder of prepared stores (not created here)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "ssnenas"


def default_store_dir(benchmark: str, dataset: str) -> Path:
    """``data_home()/<benchmark>-<dataset>``: the folder ``prepare`` writes when ``--out`` is omitted."""
    return data_home() / f"{benchmark}-{dataset}"


def store_file_name(benchmark: str, dataset: str) -> str:
    """File name of one (benchmark, dataset) table inside a store folder."""
    return f"{benchmark}-{dataset}.parquet"
