"""Start-up: wall time of ``gankit --help`` and of an argument error, as a user's shell sees it.

    python -m bench.startup            # 10 rounds each -> bench/results/startup.json

Each command is a fresh process timed from outside; ``python -c "import torch"`` is timed beside them
as the reference a torch-importing CLI could not beat. The median over the rounds is reported.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import RESULTS, machine, machine_line, write_json

GANKIT = shutil.which("gankit") or str(Path(sys.executable).with_name("gankit"))
COMMANDS = {
    "gankit --help": [GANKIT, "--help"],
    "gankit train --no-such-flag (argument error)": [GANKIT, "train", "--no-such-flag"],
    "gankit eval (missing argument)": [GANKIT, "eval"],
    'python -c "import torch" (reference)': [sys.executable, "-c", "import torch"],
}


def wall_times(cmd: list[str], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - t0)
    return times


def run(rounds: int = 10) -> dict:
    wall_times(COMMANDS["gankit --help"], 1)  # warm the file cache
    results = {name: {"median_s": round(statistics.median(t), 3), "max_s": round(max(t), 3), "rounds": rounds}
               for name, t in ((name, wall_times(cmd, rounds)) for name, cmd in COMMANDS.items())}
    return {"machine": machine(), "results": results}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    result = run(args.rounds)
    path = write_json("startup", result, args.out)
    print(machine_line(result["machine"]))
    for name, r in result["results"].items():
        print(f"{name:48s} median {r['median_s']:.3f} s  (max {r['max_s']:.3f} s, {r['rounds']} rounds)")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
