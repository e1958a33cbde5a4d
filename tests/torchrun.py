"""Run a script under `torchrun --standalone` with gloo ranks on loopback, for the tests of
gausslab's torch.distributed paths (CPU only, bounded in time).

    from tests.torchrun import run_torchrun
    result = run_torchrun(script, "--out", str(tmp_path / "rank.pt"), nproc=2)

`script` is a path to a Python file; each rank runs it with RANK, WORLD_SIZE, LOCAL_RANK and
MASTER_ADDR/PORT set by torchrun (the script calls
``torch.distributed.init_process_group("gloo")``). The ranks talk over 127.0.0.1 only
(GLOO_SOCKET_IFNAME=lo), use one intra-op thread each, and the whole run is killed after
`timeout` seconds (a hung collective then fails the test instead of hanging CI). Returns the
CompletedProcess; a nonzero exit raises AssertionError with the ranks' output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_torchrun(
    script: str | Path, *args: str, nproc: int = 2, timeout: float = 240.0
) -> subprocess.CompletedProcess[str]:
    """Run `script` with `args` on `nproc` gloo ranks (torchrun --standalone, loopback)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "GLOO_SOCKET_IFNAME": "lo",
        "MASTER_ADDR": "127.0.0.1",
        "OMP_NUM_THREADS": "1",
        "TORCHELASTIC_ERROR_FILE": "",
    }
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "--monitor-interval=0.5",
        str(script),
        *args,
    ]
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )
    if result.returncode != 0:
        raise AssertionError(
            f"torchrun exited {result.returncode}\n--- stdout\n{result.stdout[-4000:]}\n"
            f"--- stderr\n{result.stderr[-4000:]}"
        )
    return result
