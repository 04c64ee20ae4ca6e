"""Wall time of a whole FUN run against the same run with topdown (GU).

    python bench/fisher_fun_vs_topdown.py                      # the default job (embedded world)
    python bench/fisher_fun_vs_topdown.py -- --model tiny --adapter madx -o lang_adapters=fresh --data-dir DIR

Everything after ``--`` is passed to both ``unfreeze run`` commands. Runs alternate (topdown, fisher,
topdown, fisher ...) ``--repeats`` times; the table gives each run's seconds and the ratio of medians.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--unfreeze", default=str(Path(sys.executable).with_name("unfreeze")))
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    extra = [a for a in args.rest if a != "--"]
    times = {"topdown": [], "fisher": []}
    out = Path(tempfile.mkdtemp(prefix="fun-bench-"))
    try:
        for _ in range(args.repeats):
            for selector in times:
                cmd = [args.unfreeze, "run", "--selector", selector, "--output-dir", str(out), *extra]
                start = time.perf_counter()
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
                times[selector].append(time.perf_counter() - start)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(f"\n`unfreeze run {' '.join(extra)}`\n\n| selector | seconds per run | median |\n| --- | --- | ---: |")
    for selector, ts in times.items():
        print(f"| {selector} | {', '.join(f'{t:.1f}' for t in ts)} | {statistics.median(ts):.1f} |")
    ratio = statistics.median(times["fisher"]) / statistics.median(times["topdown"])
    print(f"\nFUN / topdown: {ratio:.2f}×")


if __name__ == "__main__":
    main()
