"""Early warnings (预警): a declarative catalog fired monthly on the sealed records, and its measurement.

``catalog`` loads and validates ``warnings.yaml``; ``fire`` computes ``data/warnings/<M>.parquet``;
``assessment`` measures each warning's precision and lift against later outcomes (docs/early-warnings.md).
"""
