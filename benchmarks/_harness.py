"""Shared by the benchmark scripts: run one measured step in a fresh child process.

A step runs in its own process so that its peak memory (max RSS) is its own; its time is
wall-clock inside the child after its imports, so figures compare the work, not start-up.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any


def measured(step: Callable[[], Any]) -> dict[str, Any]:
    """Run ``step`` and return its seconds, this process's peak RSS (MB) and its result."""
    t0 = time.perf_counter()
    result = step()
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mb": peak_mb, "result": result}


def run_part(script: str, part: str, *args: str) -> dict[str, Any]:
    """Run ``python script *args --part part`` and parse the JSON line it prints last."""
    out = subprocess.run([sys.executable, script, *args, "--part", part], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])
