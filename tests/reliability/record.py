"""Rows for the reliability table: each matrix test records what it saw when CF_RELIABILITY_RECORD names a file.

The rows hold outcomes and counts only, never a secret value.
"""

from __future__ import annotations

import json
import os

RECORD_ENV = "CF_RELIABILITY_RECORD"


def record(table, **row):
    """Append one row of ``table`` ("faults", "bad_input", "leaks", ...) to the record file, if one is set."""
    path = os.environ.get(RECORD_ENV)
    if not path:
        return
    line = json.dumps(dict(row, table=table), sort_keys=True)
    # One short write per row in append mode: rows from parallel workers never interleave.
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
