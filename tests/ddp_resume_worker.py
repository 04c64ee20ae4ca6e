"""Run under ``torchrun --nproc_per_node 2`` (gloo): ``unfreeze run`` to its end in A; the same run in B dying
at step 6 on every rank (its checkpoint of step 4 kept); then ``unfreeze run --resume B`` through the CLI, as
``torchrun ... -m unfreeze_cli run --resume B`` runs it. Rank 0 writes whether B's final weights equal A's.

argv: data_dir out_dir
"""

import json
import sys
from pathlib import Path

import torch


class Died(Exception):
    pass


def cli(args):
    from unfreeze_cli.main import cli as command

    try:
        command.main([str(a) for a in args], standalone_mode=False)
    except SystemExit as exc:
        return exc.code or 0
    return 0


def main():
    from unfreeze_core import checkpoint, runner, training
    from unfreeze_core.process import close

    data_dir, out = sys.argv[1], Path(sys.argv[2])
    runner.close = lambda accelerator: None  # one process group for the three commands; closed at the end
    args = ["run", "--model", "tiny", "-o", "lang_adapters=fresh", "-o", "eval_limit=8", "-o", "languages=en",
            "--data-dir", data_dir, "--selector", "random", "--k", "2", "--steps", "10", "--batch-size", "8",
            "--lr", "1e-2", "--checkpoint-every", "4"]
    assert cli([*args, "--output-dir", out / "A"]) == 0
    done = training.Trainer._step_done

    def die_at_6(self, record, last):
        done(self, record, last)
        if record.step == 6:
            raise Died

    training.Trainer._step_done = die_at_6
    assert cli([*args, "--output-dir", out / "B"]) == 1
    training.Trainer._step_done = done
    run_b = next((out / "B").glob("*/seed1"))
    assert checkpoint.load(run_b)["step"] == 4
    code = cli(["run", "--resume", run_b])
    from accelerate import PartialState

    state = PartialState()
    if state.is_main_process:
        a = checkpoint.load(next((out / "A").glob("*/seed1")))
        b = checkpoint.load(run_b)
        same = a["step"] == b["step"] == 10 and all(torch.equal(v, b["weights"][k]) for k, v in a["weights"].items())
        (out / "result.json").write_text(json.dumps({"code": code, "same": same, "results": (run_b / "results.json").is_file(),
                                                     "lock_left": (run_b / ".unfreeze.lock").exists()}))
    state.wait_for_everyone()
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
