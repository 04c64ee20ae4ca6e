"""The Ray launcher on a real local Ray cluster bound to loopback only (127.0.0.1, 2 CPUs): a 4-cell world
sweep, then a re-run after one cell's results were deleted runs only that cell."""

from __future__ import annotations

import faulthandler
import ipaddress
import json
import os

import pytest

from unfreeze_core.testing import world_grid
from unfreeze_core import sweep as sweeps
from unfreeze_report.tables import write_tables

# Ray 2.60 turns a 127.0.0.1 node address into the machine's network address (resolve_ip_for_localhost)
# unless this is 0; set before Ray starts (its raylet and GCS inherit it) and in the constant Ray read at import.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
ray = pytest.importorskip("ray")
ray._private.ray_constants.ENABLE_RAY_CLUSTER = False


def listening_addresses() -> set[str]:
    """The addresses every process of the cluster (the children of this process) listens on."""
    import psutil

    found = set()
    for proc in psutil.Process().children(recursive=True):
        try:
            found |= {c.laddr.ip for c in proc.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}
        except psutil.Error:
            pass
    return found


@pytest.fixture
def local_cluster():
    faulthandler.dump_traceback_later(300, exit=True)  # a hung cluster must not hang the suite
    ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
             configure_logging=False)
    try:
        assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
        assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
        bound = listening_addresses()
        loopback = [ipaddress.ip_address(ip) for ip in bound]
        assert bound and all((getattr(ip, "ipv4_mapped", None) or ip).is_loopback for ip in loopback), bound
        yield
    finally:
        ray.shutdown()
        faulthandler.cancel_dump_traceback_later()


def test_a_world_sweep_runs_on_ray_and_a_rerun_runs_only_the_missing_cell(tmp_path, local_cluster):
    path = world_grid(tmp_path, selectors=("standard", "topdown"), seeds=(1, 2), steps=8)
    out = tmp_path / "runs"
    launcher = sweeps.make_launcher("ray", {"poll_s": 0.2})
    plan = sweeps.plan(path, out)
    tracker = sweeps.run(plan, launcher)
    assert sweeps.summary_error(tracker) is None, tracker.errors
    assert set(tracker.state.values()) == {"done"} and len(tracker.state) == 4
    folder = out / "g"
    results = {c.id: c.run_dir / "results.json" for c in plan.cells}
    assert all(p.is_file() for p in results.values())
    logs = [line for log in (folder / "logs").rglob("*.log") for line in log.read_text().splitlines()]
    assert logs, "each cell writes its output into the sweep's logs/"
    assert write_tables(folder, [c.run_dir / "results.json" for c in plan.cells])  # the sweep's table, four cells
    assert "topdown" in (folder / "table.md").read_text()

    before = {cell: p.stat().st_mtime_ns for cell, p in results.items()}
    results["selector=topdown/seed2"].unlink()
    again = sweeps.plan(path, out)
    assert [c for c, s in again.start.items() if s != "skip"] == ["selector=topdown/seed2"]
    launched = []
    tracker = sweeps.run(again, _Counting(launcher, launched))
    assert launched == ["selector=topdown/seed2"] and sweeps.summary_error(tracker) is None
    after = {cell: p.stat().st_mtime_ns for cell, p in results.items()}
    assert {c for c in after if after[c] != before.get(c)} == {"selector=topdown/seed2"}
    record = json.loads((folder / "sweep.json").read_text())
    assert record["counts"] == {"done": 4, "running": 0, "failed": 0, "pending": 0, "interrupted": 0}
    assert record["state"] == "finished"
    assert [c["cell"] for c in record["cells"] if c["job"]] == ["selector=topdown/seed2"]  # its Ray task


class _Counting:
    """Wraps the launcher to record which jobs it was given."""

    def __init__(self, launcher, launched):
        self.launcher, self.launched = launcher, launched

    def launch(self, jobs, report):
        self.launched.extend(j.id for j in jobs)
        self.launcher.launch(jobs, report)

    def __getattr__(self, name):  # active, wait: the launcher's own
        return getattr(self.launcher, name)
