"""Hostile data files through ``unfreeze run --data-dir``: each is refused before a model is built, with its
exit code, one line naming the split, the file and line (or row) and the value, and no run folder left."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
from task_fixtures import write_jsonl, write_task, xnli_records
from test_errors import assert_one_line, invoke

from unfreeze_core.api import TaskOptions
from unfreeze_core.tasks.classification import XNLI


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(True)


def set_row(path: Path, row: int, **changes) -> None:
    records = [json.loads(line) for line in lines(path)]
    records[row].update(changes)
    write_jsonl(path, records)


def to_parquet(path: Path, records: list[dict]) -> None:
    datasets.Dataset.from_list(records).to_parquet(str(path))


def malformed_line(root):
    path = root / "ar" / "test.jsonl"
    rows = lines(path)
    rows.insert(2, '{"premise": "x", "hypothesis": \n')
    path.write_text("".join(rows), encoding="utf-8")


def empty_parquet(root):
    (root / "zh" / "test.jsonl").unlink()
    datasets.Dataset.from_list(xnli_records("zh", 2, 0)).select([]).to_parquet(str(root / "zh" / "test.parquet"))


def zero_byte_parquet(root):
    (root / "zh" / "test.jsonl").unlink()
    (root / "zh" / "test.parquet").write_bytes(b"")


def blank_jsonl(root):
    (root / "ar" / "test.jsonl").write_text("\n  \n", encoding="utf-8")


def float_labels_parquet(root):
    (root / "zh" / "test.jsonl").unlink()
    records = xnli_records("zh", 6, 0)
    records[3]["label"] = 1.5  # the whole column is float in the parquet file: row 0 holds a float too
    to_parquet(root / "zh" / "test.parquet", records)


def non_utf8_line(root):
    path = root / "ar" / "test.jsonl"
    data = path.read_bytes()
    second = data.index(b"\n") + 1
    path.write_bytes(data[:second] + b'{"premise": "caf\xe9", "hypothesis": "x", "label": 0}\n' + data[second:])


def drop_column(path: Path, row: int, name: str) -> None:
    records = [json.loads(line) for line in lines(path)]
    del records[row][name]
    write_jsonl(path, records)


def append(path: Path, text: str) -> None:
    path.write_text("".join(lines(path)) + text, encoding="utf-8")


CASES = {
    # issue 19 item 7
    "malformed JSON line": (malformed_line, "ar/test: line 3 of {root}/ar/test.jsonl is not valid JSON"),
    "parquet with no rows": (empty_parquet, "zh/test: {root}/zh/test.parquet has no rows"),
    "label given as the text '1'": (lambda root: set_row(root / "en" / "train.jsonl", 2, label="1"),
                                    "en/train: row 2 has label = '1' (text), expected an integer 0..2 "
                                    "(line 3 of {root}/en/train.jsonl)"),
    "label 1.5 among integers": (lambda root: set_row(root / "zh" / "test.jsonl", 4, label=1.5),
                                 "zh/test: row 4 has label = 1.5, expected an integer 0..2 "
                                 "(line 5 of {root}/zh/test.jsonl)"),
    # the same kind
    "zero-byte parquet": (zero_byte_parquet, "zh/test: {root}/zh/test.parquet has no rows"),
    "JSON file of blank lines": (blank_jsonl, "ar/test: {root}/ar/test.jsonl has no rows"),
    "label 1.0": (lambda root: set_row(root / "zh" / "test.jsonl", 1, label=1.0),
                  "zh/test: row 1 has label = 1.0, expected an integer 0..2"),
    "label true": (lambda root: set_row(root / "zh" / "test.jsonl", 1, label=True),
                   "zh/test: row 1 has label = True, expected an integer 0..2"),
    "label as a list": (lambda root: set_row(root / "zh" / "test.jsonl", 1, label=[1]),
                        "zh/test: row 1 has label = [1], expected an integer 0..2"),
    "premise as a number": (lambda root: set_row(root / "ar" / "test.jsonl", 3, premise=5),
                            "ar/test: row 3 has premise = 5, expected text (line 4 of {root}/ar/test.jsonl)"),
    "column missing from one row": (lambda root: drop_column(root / "ar" / "test.jsonl", 1, "hypothesis"),
                                    "ar/test: missing column 'hypothesis' in row 1 (has: premise, label; "
                                    "line 2 of {root}/ar/test.jsonl)"),
    "a line that is an array": (lambda root: append(root / "ar" / "test.jsonl", "[1, 2]\n"),
                                "ar/test: line 7 of {root}/ar/test.jsonl is a JSON array, not an object"),
    "NaN label": (lambda root: (root / "ar" / "test.jsonl").write_text(
                      '{"premise": "a", "hypothesis": "b", "label": NaN}\n', encoding="utf-8"),
                  "ar/test: line 1 of {root}/ar/test.jsonl is not valid JSON (NaN is not JSON)"),
    "two records on one line": (lambda root: (root / "ar" / "test.jsonl").write_text(
                                    "".join(lines(root / "ar" / "test.jsonl")).replace("}\n", "} ", 1),
                                    encoding="utf-8"),
                                "ar/test: line 1 of {root}/ar/test.jsonl is not valid JSON (Extra data"),
    "a line nested 100,000 deep": (lambda root: (root / "ar" / "test.jsonl").write_text(
                                       '{"premise": ' + "[" * 100_000 + "]" * 100_000 + "}\n", encoding="utf-8"),
                                   "ar/test: line 1 of {root}/ar/test.jsonl is nested too deeply"),
    "a line that is not UTF-8": (non_utf8_line, "ar/test: line 2 of {root}/ar/test.jsonl is not UTF-8 text"),
    "float labels in parquet": (float_labels_parquet, "zh/test: row 0 has label = 0.0, expected an integer 0..2"),
    "a bad row outside train_limit": (lambda root: set_row(root / "en" / "train.jsonl", 7, label=9),
                                      "en/train: row 7 has label = 9, expected an integer 0..2 "
                                      "(line 8 of {root}/en/train.jsonl)"),
}


@pytest.mark.parametrize("case", CASES)
def test_hostile_data_is_one_line_and_leaves_nothing(case, tmp_path):
    spoil, text = CASES[case]
    root = write_task("xnli", tmp_path / "data", train=8, test=6)
    spoil(root)
    out = tmp_path / "runs"
    result = invoke(["run", "--task", "xnli", "--model", "tiny", "--adapter", "lora", "--data-dir", root,
                     "--steps", "1", "--lr", "1e-3", "-o", "train_limit=4", "--output-dir", out])
    assert_one_line(result, 1, text.replace("{root}", str(root)))
    assert not out.exists()


def test_a_file_with_a_bom_reads_as_without(tmp_path):
    root = write_task("xnli", tmp_path / "data", train=8, test=4)
    path = root / "ar" / "test.jsonl"
    plain = XNLI(TaskOptions(data_dir=str(root))).load("ar", "test").to_list()
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert XNLI(TaskOptions(data_dir=str(root))).load("ar", "test").to_list() == plain


def test_a_json_array_file_names_its_item(tmp_path):
    root = write_task("xnli", tmp_path / "data", train=8, test=4)
    records = xnli_records("ar", 4, 0)
    (root / "ar" / "test.jsonl").unlink()
    path = root / "ar" / "test.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    assert XNLI(TaskOptions(data_dir=str(root))).load("ar", "test").to_list() == records
    records[2]["label"] = "2"
    path.write_text(json.dumps(records), encoding="utf-8")
    with pytest.raises(Exception, match=r"ar/test: row 2 has label = '2' \(text\), expected an integer 0\.\.2 "
                                        r"\(item 2 of .*test\.json\)"):
        XNLI(TaskOptions(data_dir=str(root))).load("ar", "test")


OTHER_TASKS = {
    "copa: label given as the text '0'": ("xcopa", lambda root: set_row(root / "th" / "test.jsonl", 2, label="0"),
                                          "th/test: row 2 has label = '0' (text), expected an integer 0..1 "
                                          "(line 3 of {root}/th/test.jsonl)"),
    "copa: question 'why'": ("xcopa", lambda root: set_row(root / "zh" / "test.jsonl", 1, question="why"),
                             "zh/test: row 1: question 'why' is not one of cause, effect"),
    "qa: a question id given twice": ("mlqa", lambda root: set_row(root / "ar" / "test.jsonl", 3, id="ar-101-0"),
                                      "ar/test: row 3 has id = 'ar-101-0' again (row 0 has it too): "
                                      "each id must be unique (line 4 of {root}/ar/test.jsonl)"),
    "qa: a question without answers": ("mlqa", lambda root: set_row(root / "zh" / "test.jsonl", 2,
                                                                     answers={"text": [], "answer_start": []}),
                                       "zh/test: row 2 has answers = {'text': [], 'answer_start': []}, expected"),
    "qa: an answer offset given as text": ("xquad", lambda root: set_row(root / "en" / "train.jsonl", 5, answers={
                                               "text": ["cat"], "answer_start": ["0"]}),
                                           "en/train: row 5 has answers = {'text': ['cat'], 'answer_start': ['0']}"),
}


@pytest.mark.parametrize("case", OTHER_TASKS)
def test_hostile_data_of_the_other_hub_tasks(case, tmp_path):
    task, spoil, text = OTHER_TASKS[case]
    root = write_task(task, tmp_path / "data", train=8, test=6)
    spoil(root)
    out = tmp_path / "runs"
    result = invoke(["run", "--task", task, "--model", "tiny", "--adapter", "lora", "--data-dir", root,
                     "--steps", "1", "--lr", "1e-3", "--output-dir", out])
    assert_one_line(result, 1, text.replace("{root}", str(root)))
    assert not out.exists()


def test_a_key_given_twice_and_a_folder_without_test_files(tmp_path):
    root = write_task("xnli", tmp_path / "data", train=8, test=6)
    (root / "ar" / "test.jsonl").write_text('{"premise": "a", "hypothesis": "b", "label": 0, "label": 7}\n',
                                            encoding="utf-8")
    out = tmp_path / "runs"
    args = ["run", "--task", "xnli", "--model", "tiny", "--adapter", "lora", "--steps", "1", "--lr", "1e-3",
            "--output-dir", out, "--data-dir"]
    assert_one_line(invoke([*args, root]), 1, f"ar/test: line 1 of {root}/ar/test.jsonl is not valid JSON "
                                                "(key 'label' given twice)")
    train_only = tmp_path / "train-only"
    write_jsonl(train_only / "en" / "train.jsonl", xnli_records("en", 8, 0))
    assert_one_line(invoke([*args, train_only]), 1, f"no language to evaluate in {train_only}: expected "
                                                    "<lang>/test.jsonl (or .json, .parquet) for each language")
    assert not out.exists()


def test_a_csv_file_is_named_as_not_read(tmp_path):
    root = write_task("xnli", tmp_path / "data", train=8, test=6)
    train = root / "en" / "train.jsonl"
    train.rename(train.with_suffix(".csv"))
    out = tmp_path / "runs"
    result = invoke(["run", "--task", "xnli", "--model", "tiny", "--adapter", "lora", "--steps", "1", "--lr", "1e-3",
                     "--output-dir", out, "--data-dir", root])
    assert_one_line(result, 1, f"no train data for language 'en' in {root} (expected {root}/en/train.jsonl, "
                               ".json or .parquet; found train.csv, which is not read)")
    assert not out.exists()
