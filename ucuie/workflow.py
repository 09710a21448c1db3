"""Glue between Snakemake's ``script:`` object and the library.

Step scripts under ``scripts/`` call :func:`step`, which sends everything the step prints
(progress bars included) to the rule's ``log:`` file and turns known errors into one line.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any


def step(snakemake, body: Callable[[Any], None]) -> None:
    """Run ``body(snakemake)`` with stdout and stderr going to the rule's log file."""
    log_path = Path(snakemake.log[0]) if snakemake.log else None
    if log_path is None:
        body(snakemake)
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            body(snakemake)
        except Exception:
            traceback.print_exc(file=log)
            log.flush()
            error = sys.exc_info()[1]
            print(f"rule {snakemake.rule} failed: {error} (details in {log_path})", file=sys.__stderr__)
            raise
