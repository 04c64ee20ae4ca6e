"""Figure 2's view: every row as a per cent of the full fine-tuning row of the same model and task.

``unfreeze report RUNS --relative-to full``. The baseline of a (task, model) is its row trained with that
backend and the ``standard`` selector (plain full fine-tuning); every row of that task and model is shown as
``100 · avg / avg_baseline``, where ``avg`` is the row's average over the target languages (every language
but the train language), averaged over seeds (``results.aggregate``). The paper's Table 7 gives the full
fine-tuning baseline as one average over the target languages per model and task, so Figure 2's ratio is this
ratio of averages, not an average of per-language ratios. A task and model without a baseline row show ``-``;
two baseline rows (full fine-tuning with different settings) are refused with one line naming their folders.
"""

from __future__ import annotations

import csv
import io
import json

from unfreeze_core.errors import UnfreezeError

from .results import differing, scale, show
from .tables import md_escape, tex_escape

BASELINE_SELECTOR = "standard"


def baselines(rows: list[dict], adapter: str) -> dict[tuple[str, str], dict]:
    """(task, model) -> the one row of ``adapter`` with the ``standard`` selector."""
    found: dict[tuple[str, str], dict] = {}
    for row in rows:
        if row["adapter"] != adapter or row["selector"] != BASELINE_SELECTOR:
            continue
        key = (row["task"], row["model"])
        if key in found:
            raise UnfreezeError(f"two {adapter} {BASELINE_SELECTOR} rows for {row['task']} on {row['model']} "
                                f"(different settings, in {found[key]['folders'][0]} and {row['folders'][0]}): "
                                f"report the folders of one of them")
        found[key] = row
    return found


def relative_rows(rows: list[dict], adapter: str) -> list[dict]:
    """``rows`` (``results.aggregate``) with ``baseline`` (the baseline's average, or None), ``avg`` (the row's)
    and ``percent`` (100 · avg / baseline, or None) added; rows of a task and model with no baseline keep None."""
    base = baselines(rows, adapter)
    out = []
    for row in rows:
        ref = base.get((row["task"], row["model"]))
        avg = row["avg_xling"][0] if row["avg_xling"] else None
        ref_avg = ref["avg_xling"][0] if ref and ref["avg_xling"] else None
        percent = 100.0 * (avg / ref_avg) if avg is not None and ref_avg else None
        out.append({**row, "avg": avg, "baseline": ref_avg, "percent": percent,
                    "is_baseline": ref is row})
    return out


def _table(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    extra = differing([r["settings"] for r in rows])
    header = ["task", "model", "adapter", "selector", *extra, "seeds", "avg (no train lang)", "full FT avg",
              "% of full FT"]
    body = []
    for r in rows:
        factor = scale(r["metric"])
        number = (lambda v: "-" if v is None else f"{v * factor:.1f}")
        body.append([r["task"], r["model"], r["adapter"], r["selector"], *(show(r["settings"].get(k)) for k in extra),
                     str(len(r["seeds"])), number(r["avg"]), number(r["baseline"]),
                     "-" if r["percent"] is None else f"{r['percent']:.1f}"])
    return header, body


def to_markdown(rows: list[dict]) -> str:
    header, body = _table(rows)
    lines = ["| " + " | ".join(md_escape(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(md_escape(c) for c in cells) + " |" for cells in body]
    return "Each row's average over the target languages as % of the full fine-tuning (standard) row of its task " \
           "and model (Figure 2)\n\n" + "\n".join(lines) + "\n"


def to_csv(rows: list[dict]) -> str:
    header, body = _table(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(body)
    return buffer.getvalue()


def to_latex(rows: list[dict]) -> str:
    header, body = _table(rows)
    lines = [r"\begin{tabular}{" + "l" * (len(header) - 4) + "rrrr}", r"\toprule",
             " & ".join(tex_escape(h) for h in header) + r" \\", r"\midrule"]
    lines += [" & ".join(tex_escape(c) for c in cells) + r" \\" for cells in body]
    return "\n".join([*lines, r"\bottomrule", r"\end{tabular}"]) + "\n"


def to_json(rows: list[dict]) -> str:
    keys = ("task", "model", "adapter", "selector", "metric", "seeds", "settings", "avg", "baseline", "percent")
    return json.dumps([{k: r[k] for k in keys} for r in rows], indent=2, default=str)


FORMATTERS = {"markdown": to_markdown, "table": to_markdown, "csv": to_csv, "latex": to_latex, "json": to_json}
