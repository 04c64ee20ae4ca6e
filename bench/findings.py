"""Run the findings grid (configs/world/findings.yaml) cell by cell through `unfreeze run`, then summarise it.

Until `unfreeze sweep` exists this script is the grid's runner: every cell is one seed's
`unfreeze run --config CELL.yaml` in its own folder ``OUT/<study>/<cell>/``; a cell whose results.json
exists is skipped. ``--summary DIR`` writes summary.json, summary.md and the figures of docs/findings.md
from the runs under OUT (no training). See the grid file's header for the commands.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
UNFREEZE = [str(Path(sys.executable).parent / "unfreeze")]


# ------------------------------------------------------------------------------------------- grid

def _put(cell: dict, key: str, value) -> None:
    """``options.selector.stop_z`` -> cell["options"]["selector"]["stop_z"]; a plain key is set as is."""
    *path, last = key.split(".")
    for part in path:
        cell = cell.setdefault(part, {})
    cell[last] = value


def _label(key: str, value) -> str:
    if isinstance(value, dict):
        return str(value.get("selector", "-".join(f"{k.split('.')[-1]}{v}" for k, v in value.items())))
    if isinstance(value, list):
        return f"{key.split('.')[-1]}-" + "".join(map(str, value))
    return f"s{value}" if key == "seed" else str(value)


def expand(grid: dict, seeds: list[int] | None = None) -> list[tuple[str, str, dict]]:
    """(study, cell name, run config) for every cell of the grid, in file order."""
    cells = []
    for study, spec in grid["studies"].items():
        axes = dict(spec.get("axes", {}))
        if seeds:
            axes["seed"] = list(seeds)
        keys = list(axes)
        for values in itertools.product(*(axes[k] for k in keys)):
            config: dict = {}
            for key, value in [*grid.get("base", {}).items(), *spec.get("set", {}).items()]:
                _put(config, key, value)
            for key, value in zip(keys, values):
                for k, v in (value.items() if isinstance(value, dict) else [(key, value)]):
                    _put(config, k, v)
            config["seeds"] = [config.pop("seed")]
            cells.append((study, "_".join(_label(k, v) for k, v in zip(keys, values)), config))
    return cells


def result_file(cell_dir: Path) -> Path | None:
    found = sorted(cell_dir.rglob("results.json"))
    return found[0] if found else None


def run_cell(out: Path, study: str, name: str, config: dict, timeout: int) -> str:
    cell_dir = out / study / name
    if result_file(cell_dir):
        return f"skip {study}/{name}"
    cell_dir.mkdir(parents=True, exist_ok=True)
    for old in cell_dir.iterdir():  # an interrupted attempt: start the cell afresh
        if old.is_dir():
            import shutil

            shutil.rmtree(old)
    (cell_dir / "cell.yaml").write_text(yaml.safe_dump({**config, "output_dir": str(cell_dir / "runs")}))
    start = time.time()
    proc = subprocess.run([*UNFREEZE, "run", "--config", str(cell_dir / "cell.yaml")], capture_output=True,
                          text=True, timeout=timeout)
    took = time.time() - start
    (cell_dir / "stdout.txt").write_text(proc.stdout + proc.stderr)
    (cell_dir / "time.json").write_text(json.dumps({"seconds": round(took, 1), "rc": proc.returncode}) + "\n")
    status = "ok" if proc.returncode == 0 else f"FAILED rc={proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}"
    return f"{status} {study}/{name} {took:.0f}s"


def in_order(grid: dict, cells: list[tuple[str, str, dict]]) -> list[tuple[str, str, dict]]:
    """Cells in the grid's ``run_order`` (chunks of a study's seeds or first cells, seed-major), then the rest."""
    ordered, taken = [], set()
    for chunk in grid.get("run_order", []):
        mine = [c for c in cells if c[0] == chunk["study"]]
        if "seeds" in chunk:
            mine = sorted((c for c in mine if c[2]["seeds"][0] in chunk["seeds"]), key=lambda c: c[2]["seeds"][0])
        else:
            mine = mine[:chunk["first"]]
        ordered += [c for c in mine if (c[0], c[1]) not in taken]
        taken |= {(c[0], c[1]) for c in mine}
    return ordered + [c for c in cells if (c[0], c[1]) not in taken]


def run_grid(grid: dict, out: Path, jobs: int, seeds, only, timeout: int) -> int:
    cells = in_order(grid, [c for c in expand(grid, seeds) if not only or c[0] in only])
    failed = 0
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for line in pool.map(lambda c: run_cell(out, *c, timeout), cells):
            print(line, flush=True)
            failed += "FAILED" in line
    return failed


# ------------------------------------------------------------------------------------------- main

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grid", type=Path)
    parser.add_argument("--out", type=Path, default=Path("runs/findings"))
    parser.add_argument("--jobs", type=int, default=1, help="cells run at the same time")
    parser.add_argument("--seeds", type=int, nargs="+", help="replace every study's seed axis")
    parser.add_argument("--only", nargs="+", help="run only these studies")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--summary", type=Path, help="write summary and figures to this folder (no training)")
    parser.add_argument("--list", action="store_true", help="print the cells and exit")
    args = parser.parse_args(argv)
    grid = yaml.safe_load(args.grid.read_text())
    if args.list:
        for study, name, config in in_order(grid, expand(grid, args.seeds)):
            print(study, name, json.dumps(config, sort_keys=True))
        return 0
    if args.summary:
        from findings_summary import summarise

        summarise(grid, args.out, args.summary)
        return 0
    return 1 if run_grid(grid, args.out, args.jobs, args.seeds, args.only, args.timeout) else 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
