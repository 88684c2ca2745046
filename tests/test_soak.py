"""The one-minute soak: benchmarks/soak.py for 60 s, as its own test step.

Marked `soak`, which the default run leaves out (pyproject addopts); CI runs it right after
the main test command with `bash scripts/test.sh -m soak`.

The recording client (CstaClient + Recorder into SQLite, in its own process) monitors 50
devices of a simulator making about ten calls a second, through a fault-injecting proxy
(splits and coalescing throughout; stalls, a reset, a mid-frame cut) and one restart of the
simulator; then its history is compared call by call with the simulator's ground truth
(the rules are in the script's docstring).  About 75 s.  The ten-minute run is
`python benchmarks/soak.py` (default 600 s).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOAK = ROOT / "benchmarks" / "soak.py"


@pytest.mark.soak
@pytest.mark.timeout(300)
def test_one_minute_soak_with_faults_and_a_simulator_restart():
    proc = subprocess.run(
        [sys.executable, str(SOAK), "--seconds", "60", "--seed", "1"],
        capture_output=True, text=True, timeout=280, cwd=ROOT, check=False)
    out = proc.stdout
    print(out)  # shown by pytest when the test fails
    assert proc.returncode == 0, out + proc.stderr[-4000:]
    assert re.search(r"^result: PASS", out, re.MULTILINE)

    def figure(pattern: str) -> int:
        match = re.search(pattern, out)
        assert match, f"no {pattern!r} in the output"
        return int(match.group(1))

    # What the run must have gone through to prove anything.
    assert figure(r"calls made: (\d+)") >= 300
    assert figure(r"calls clear of faults: \d+: right (\d+)") >= 50
    assert figure(r"(\d+) simulator restarts") >= 1
    assert figure(r"reconnects: (\d+) link losses restored") >= 1
    assert figure(r"calls clear of faults: .* duplicated (\d+)") == 0
    assert figure(r"calls overlapping a fault .* duplicated (\d+)") == 0
    assert figure(r"rows of no call: (\d+)") == 0
    assert figure(r"rows left in progress: (\d+)") == 0
