"""Run under ``torchrun --nproc_per_node 2``: train with several unfreeze events, dump each rank's weights.

argv: data_dir out_dir [--no-rewrap] [--fun]. ``--no-rewrap`` skips the DDP re-wrap after an unfreeze
(the control that shows why it is needed); ``--fun`` trains with FUN (``fisher_batches=2``) instead of random,
and records (``estimates``) tr(F) of the built, untrained model by every registered estimator, on the main
process, as the controller estimates under this many processes (step batches of 8 cut per process).
"""

import json
import sys
from pathlib import Path

import torch
from accelerate import Accelerator

from unfreeze_core.components import build
from unfreeze_core.config import RunConfig
from unfreeze_core.plugins import get_plugins
from unfreeze_core.runner import close
from unfreeze_core.training import Trainer


def main():
    data_dir, out_dir = sys.argv[1], Path(sys.argv[2])
    if "--no-rewrap" in sys.argv:
        Trainer.rewrap = lambda self: None
    fun = "--fun" in sys.argv
    config = RunConfig(task="nli", model="tiny", adapter="madx", selector="fisher" if fun else "random", k=3,
                       steps=24, batch_size=8, lr=1e-2, output_dir=str(out_dir), log_every=4, fisher_batches=2)
    config.options["task"] = {"data_dir": data_dir, "languages": ["en"], "eval_limit": 8}
    config.options["adapter"] = {"lang_adapters": "fresh"}
    plugins = get_plugins()
    parts = build(config, plugins)
    accelerator = Accelerator(cpu=True)
    estimates = {}
    if fun:
        build_only = Trainer.build

        def build_and_estimate(self):
            build_only(self)
            if self.accelerator.is_main_process:
                for name, cls in plugins.registries()["fisher_estimators"].entries.items():
                    estimates[name] = self.unfreezer.fisher(self.inner_model, 0, 2, estimator=cls())

        Trainer.build = build_and_estimate
    trainer = Trainer(config, parts, accelerator, seed=3, run_dir=out_dir / "run", hook=plugins.hook)
    trainer.run()
    model = accelerator.unwrap_model(trainer.model)
    units = parts.backend.units(model)
    weights = {f"{u}/{name}": p.detach().double().sum().item() for u, params in units.items() for name, p in params}
    rank = accelerator.process_index
    record = {"rank": rank, "events": trainer.schedule.events, "weights": weights, "estimates": estimates}
    (out_dir / f"rank{rank}.json").write_text(json.dumps(record))
    close(accelerator)  # the ranks end the process group together (a clean exit)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
