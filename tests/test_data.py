"""load_text_dataset: every format, every source form, every bad case."""

from __future__ import annotations

import json

import datasets
import numpy as np
import pytest

from llmdisc import LlmdiscError, label_names, load_text_dataset, stratified_subset

ROWS = [
    ("a warm and funny film", "positive"),
    ("dull, slow and far too long", "negative"),
    ("the best meal I had all year", "positive"),
    ("the battery died within a week", "negative"),
    ("lovely staff and a quiet room", "positive"),
    ("broken on arrival, no refund", "negative"),
    ("great songs, great crowd", "positive"),
    ("I want those two hours back", "negative"),
    ("charming, clever, beautifully shot", "positive"),
    ("the plot makes no sense at all", "negative"),
]


def write(path, rows, fmt, text_col="text", label_col="label"):
    records = [{text_col: t, label_col: y} for t, y in rows]
    ds = datasets.Dataset.from_list(records)
    if fmt == "csv":
        ds.to_csv(path, index=False)
    elif fmt == "tsv":
        ds.to_csv(path, index=False, sep="\t")
    elif fmt == "jsonl":
        ds.to_json(path, lines=True)
    elif fmt == "json":
        path.write_text(json.dumps(records), encoding="utf-8")
    elif fmt == "parquet":
        ds.to_parquet(path)
    return path


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "jsonl", "parquet"])
def test_each_format_from_a_folder(tmp_path, fmt):
    write(tmp_path / f"train.{fmt}", ROWS * 2, fmt)
    write(tmp_path / f"test.{fmt}", ROWS[:4], fmt)
    ds = load_text_dataset(str(tmp_path))
    assert set(ds) == {"train", "validation", "test"}
    assert ds["train"].column_names == ["text", "label"]
    assert label_names(ds) == ["negative", "positive"]  # string labels: sorted, stable
    assert len(ds["train"]) + len(ds["validation"]) == 20
    assert ds["test"][0] == {"text": ROWS[0][0], "label": 1}


def test_explicit_files_and_dev_alias(tmp_path):
    write(tmp_path / "a.csv", ROWS, "csv")
    write(tmp_path / "b.jsonl", ROWS[:4], "jsonl")
    ds = load_text_dataset({"train": str(tmp_path / "a.csv"), "validation": str(tmp_path / "b.jsonl")})
    assert len(ds["train"]) == 10 and len(ds["validation"]) == 4
    same = load_text_dataset(f"train={tmp_path / 'a.csv'},validation={tmp_path / 'b.jsonl'}")
    assert same["validation"]["text"] == ds["validation"]["text"]
    folder = tmp_path / "f"
    folder.mkdir()
    write(folder / "train.csv", ROWS, "csv")
    write(folder / "dev.csv", ROWS[:2], "csv")
    assert len(load_text_dataset(str(folder))["validation"]) == 2


def test_single_file_carves_stratified_validation(tmp_path):
    rows = [(f"good thing number {i}", "positive") for i in range(30)] + [
        (f"bad thing {i}", "negative") for i in range(10)
    ]
    ds = load_text_dataset(str(write(tmp_path / "all.csv", rows, "csv")), validation_size=0.5, seed=1)
    assert len(ds["validation"]) == 20
    assert np.bincount(ds["validation"]["label"]).tolist() == [5, 15]  # stratified: 1:3 as in train
    assert "test" not in ds


def test_column_auto_detection_and_explicit_columns(tmp_path):
    write(tmp_path / "train.csv", ROWS, "csv", text_col="sentence", label_col="labels")
    assert load_text_dataset(str(tmp_path / "train.csv"))["train"].column_names == ["text", "label"]
    write(tmp_path / "other.csv", ROWS, "csv", text_col="body", label_col="stars")
    ds = load_text_dataset(str(tmp_path / "other.csv"), text_column="body", label_column="stars")
    assert len(ds["train"]) + len(ds["validation"]) == 10
    assert sorted(ds["validation"]["label"]) == [0, 1]  # at least one of each class


def test_integer_labels_with_names_and_given_order(tmp_path):
    rows = [(t, int(y == "positive")) for t, y in ROWS]
    ds = load_text_dataset(str(write(tmp_path / "t.csv", rows, "csv")), label_names=["neg", "pos"])
    assert label_names(ds) == ["neg", "pos"]
    row = next(r for r in ds["train"] if r["text"] == ROWS[0][0])
    assert row["label"] == 1
    # String labels in a given order: positive is now index 0.
    ds = load_text_dataset(str(write(tmp_path / "s.csv", ROWS, "csv")), label_names=["positive", "negative"])
    assert label_names(ds) == ["positive", "negative"]
    assert next(r for r in ds["train"] if r["text"] == ROWS[1][0])["label"] == 1


def test_demo_set_ships_with_the_package(demo):
    assert {s: len(demo[s]) for s in demo} == {"train": 320, "validation": 80, "test": 80}
    assert label_names(demo) == ["negative", "positive"]
    texts = [t for split in demo.values() for t in split["text"]]
    assert len(set(texts)) == len(texts)  # no text in two splits


def test_sst2_from_shared(sst2_dir):
    ds = load_text_dataset(str(sst2_dir), label_names=["negative", "positive"])
    assert {s: len(ds[s]) for s in ds} == {"train": 67349, "validation": 872, "test": 1821}


def test_stratified_subset_is_balanced_nested_and_seeded(demo):
    train = demo["train"]
    small, big = stratified_subset(train, 10, seed=3), stratified_subset(train, 40, seed=3)
    assert np.bincount(small["label"]).tolist() == [5, 5]
    assert set(small["text"]) <= set(big["text"])
    assert stratified_subset(train, 10, seed=3)["text"] == small["text"]
    assert stratified_subset(train, 10, seed=4)["text"] != small["text"]
    assert stratified_subset(train, 10_000) is train
    with pytest.raises(LlmdiscError, match="positive"):
        stratified_subset(train, 0)


# ---- bad input: one clear line each ----------------------------------------------------------


def test_missing_file():
    with pytest.raises(LlmdiscError, match="data file not found: nope.csv"):
        load_text_dataset("nope.csv")


def test_missing_columns_name_the_columns_found(tmp_path):
    path = write(tmp_path / "t.csv", ROWS, "csv", text_col="body", label_col="label")
    with pytest.raises(LlmdiscError, match=r"no text column found .*columns found: body, label.*--text-column"):
        load_text_dataset(str(path))
    with pytest.raises(LlmdiscError, match=r"label column 'y' not found; columns found: body, label"):
        load_text_dataset(str(path), text_column="body", label_column="y")


def test_empty_texts_are_skipped_with_a_count(tmp_path, caplog):
    path = write(tmp_path / "t.csv", ROWS + [("   ", "positive"), ("", "negative")], "csv")
    with caplog.at_level("WARNING"):
        ds = load_text_dataset(str(path))
    assert len(ds["train"]) + len(ds["validation"]) == 10
    assert "skipped 2 empty" in caplog.text
    path = write(tmp_path / "e.jsonl", [("  ", "positive"), ("\t", "negative")], "jsonl")
    with pytest.raises(LlmdiscError, match="no non-empty texts"):
        load_text_dataset(str(path))


def test_unknown_test_labels(tmp_path):
    write(tmp_path / "train.csv", ROWS, "csv")
    write(tmp_path / "test.csv", ROWS[:2] + [("so-so", "neutral")], "csv")
    with pytest.raises(LlmdiscError, match=r"labels in test not in the training labels .*'neutral'"):
        load_text_dataset(str(tmp_path))


def test_one_class(tmp_path):
    path = write(tmp_path / "t.csv", [(t, "positive") for t, _ in ROWS], "csv")
    with pytest.raises(LlmdiscError, match="one class"):
        load_text_dataset(str(path))


def test_not_utf8(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("text,label\ncaf\xe9 au lait,positive\nbad,negative\n".encode("latin-1"))
    with pytest.raises(LlmdiscError, match="is not UTF-8 .*iconv"):
        load_text_dataset(str(path))


def test_unsupported_format_and_folder_without_train(tmp_path):
    (tmp_path / "train.xml").write_text("<x/>")
    with pytest.raises(LlmdiscError, match="unsupported data file format '.xml'"):
        load_text_dataset(str(tmp_path / "train.xml"))
    with pytest.raises(LlmdiscError, match="no train file in folder"):
        load_text_dataset(str(tmp_path))


def test_offline_hub_id_fails_fast():
    with pytest.raises(LlmdiscError, match="could not load data set 'someone/no-such-set'"):
        load_text_dataset("someone/no-such-set")


@pytest.mark.parametrize("sizes", [[98, 1, 1], [2, 46, 44], [30, 10], [5, 5]])
def test_stratified_subsets_are_nested_for_every_n(sizes):
    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(num_classes=len(sizes))}
    )
    labels = [c for c, k in enumerate(sizes) for _ in range(k)]
    ds = datasets.Dataset.from_dict(
        {"text": [f"t{i}" for i in range(len(labels))], "label": labels}, features=features
    )
    previous: set[str] = set()
    for n in range(1, len(ds)):
        current = set(stratified_subset(ds, n, seed=2)["text"])
        assert len(current) == n and previous <= current
        previous = current
    counts = np.bincount(stratified_subset(ds, len(sizes), seed=2)["label"], minlength=len(sizes))
    assert (counts == 1).all()  # every class once, as soon as n allows


def test_star_ratings_with_names_and_missing_labels(tmp_path):
    rows = [(f"review number {i}", 1 + i % 5) for i in range(30)]
    path = write(tmp_path / "stars.csv", rows, "csv")
    ds = load_text_dataset(str(path), label_names=["awful", "poor", "ok", "good", "great"])
    row = next(r for r in ds["train"] if r["text"] == "review number 4")
    assert label_names(ds)[row["label"]] == "great"  # 5 stars -> the fifth name
    (tmp_path / "gaps.jsonl").write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": null}\n')
    with pytest.raises(LlmdiscError, match="1 rows with no label"):
        load_text_dataset(str(tmp_path / "gaps.jsonl"))


def test_split_equals_path_form_is_strict(tmp_path):
    from llmdisc.data.files import parse_data_source

    assert parse_data_source("train=a.csv,test=b.csv") == {"train": "a.csv", "test": "b.csv"}
    assert parse_data_source("year=2024/train.parquet") == "year=2024/train.parquet"
    assert parse_data_source("train=a.csv,b.csv") == "train=a.csv,b.csv"


def test_a_single_example_class_cannot_be_carved(tmp_path):
    path = write(tmp_path / "t.csv", ROWS + [("a lone neutral one", "neutral")], "csv")
    with pytest.raises(LlmdiscError, match="a class has a single training example"):
        load_text_dataset(str(path))


# ---- TSV quoting, empty files --------------------------------------------------------------


def _tsv(path, lines):
    path.write_text("text\tlabel\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _texts(ds):
    return [t for split in ds.values() for t in split["text"]]


@pytest.mark.parametrize(
    "quoted",
    [
        ['"Great" he said\tpositive'],
        ['"Great he said\tpositive', "one\tnegative", "two\tpositive", 'it ends here"\tnegative'],
    ],
)
def test_a_tsv_quote_is_part_of_the_text(tmp_path, quoted):
    # One field starting with '"' used to swallow rows up to the next quote, silently.
    lines = [
        f"review {i} of {'good' if i % 2 else 'bad'} things\t{'positive' if i % 2 else 'negative'}" for i in range(60)
    ]
    lines[10 : 10 + len(quoted)] = quoted
    ds = load_text_dataset(_tsv(tmp_path / "q.tsv", lines))
    assert len(_texts(ds)) == 60
    assert {q.split("\t")[0] for q in quoted} <= set(_texts(ds))  # verbatim, quotes and all


def test_a_consistently_quoted_tsv_is_unquoted(tmp_path):
    lines = [f'"{t}"\t"{y}"' for t, y in ROWS] + ['"a ""quoted"" word\tand a tab"\t"positive"']
    texts = _texts(load_text_dataset(_tsv(tmp_path / "q.tsv", lines)))
    assert 'a "quoted" word\tand a tab' in texts and ROWS[0][0] in texts and len(texts) == 11


def test_a_quoted_tsv_field_over_several_lines_is_named(tmp_path, caplog):
    lines = [f'"{t}"\t"{y}"' for t, y in ROWS] + ['"two\nlines"\t"positive"']
    with caplog.at_level("WARNING"):
        texts = _texts(load_text_dataset(_tsv(tmp_path / "q.tsv", lines)))
    assert "two\nlines" in texts
    assert "line 12" in caplog.text and "2 lines" in caplog.text


def test_a_tsv_row_with_the_wrong_number_of_fields_is_named(tmp_path):
    lines = [f"{t}\t{y}" for t, y in ROWS]
    lines[3] = "a text\twith a tab\tpositive"
    with pytest.raises(LlmdiscError, match=r"q\.tsv line 5 has 3 tab-separated fields, the header 2") as e:
        load_text_dataset(_tsv(tmp_path / "q.tsv", lines))
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("e.csv", "", "is empty"),
        ("e.tsv", "\n\n", "is empty"),
        ("e.jsonl", "", "is empty"),
        ("e.json", "", "is empty"),
        ("e.parquet", "", "is empty"),
        ("h.csv", "text,label\n", "has a header line but no rows"),
        ("h.tsv", "text\tlabel\n", "has a header line but no rows"),
        ("h.json", "[]", "holds no rows"),
    ],
)
def test_an_empty_or_header_only_file_is_one_line(tmp_path, name, content, message):
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(LlmdiscError, match=message) as e:
        load_text_dataset(str(tmp_path / name))
    assert "\n" not in str(e.value)


# ---- any data set: Hub configs, revisions, split names; the multi-class demo ---------------


def test_the_topics_demo_has_four_classes_in_three_splits():
    data = load_text_dataset("demo-topics")
    assert label_names(data) == ["food", "sports", "tech", "weather"]
    assert {s: len(d) for s, d in data.items()} == {"train": 120, "validation": 40, "test": 40}
    for split in data.values():
        assert np.bincount(split["label"]).tolist() == [len(split) // 4] * 4
    texts = [t for split in data.values() for t in split["text"]]
    assert len(set(texts)) == len(texts)  # no text in two splits


@pytest.fixture
def fake_hub(monkeypatch):
    """datasets.load_dataset as a Hub data set with configs sst2 and cola, splits train/dev/test."""
    calls = []
    split = datasets.Dataset.from_dict(
        {"sentence": [t for t, _ in ROWS], "label": [int(y == "positive") for _, y in ROWS]}
    )

    def load_dataset(path, name=None, revision=None, **kwargs):
        calls.append((path, name, revision))
        if name not in (None, "sst2", "cola"):
            raise ValueError(f"BuilderConfig '{name}' not found. Available: ['sst2', 'cola']")
        return datasets.DatasetDict({"train": split, "dev": split.select(range(4)), "test": split.select(range(6))})

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


def test_a_hub_data_set_with_config_revision_and_split_names(fake_hub):
    data = load_text_dataset(
        "nyu-mll/glue",
        data_config="sst2",
        revision="v1.0",
        splits_map="validation=dev",
        label_names=["negative", "positive"],
    )
    assert fake_hub == [("nyu-mll/glue", "sst2", "v1.0")]
    assert {s: len(d) for s, d in data.items()} == {"train": 10, "validation": 4, "test": 6}
    assert label_names(data) == ["negative", "positive"]


def test_a_config_that_does_not_exist_is_one_line_naming_those_that_do(fake_hub):
    with pytest.raises(
        LlmdiscError, match=r"data set 'nyu-mll/glue' has no config 'sst3'; its configs: \['sst2', 'cola'\]"
    ) as e:
        load_text_dataset("nyu-mll/glue", data_config="sst3")
    assert "\n" not in str(e.value)


def test_a_split_map_naming_a_missing_split(fake_hub):
    with pytest.raises(LlmdiscError, match="has no split 'eval' .it has: train, dev, test"):
        load_text_dataset("nyu-mll/glue", data_config="sst2", splits_map={"test": "eval"})


@pytest.mark.parametrize(
    "value, message", [("valid=dev", "unknown split.s. valid"), ("validation", "is not SPLIT=NAME")]
)
def test_bad_split_maps_are_one_line(value, message):
    with pytest.raises(LlmdiscError, match=message):
        load_text_dataset("demo", splits_map=value)


def test_a_split_map_names_the_files_of_a_folder(tmp_path):
    write(tmp_path / "train.csv", ROWS, "csv")
    write(tmp_path / "heldout.csv", ROWS[:4], "csv")
    write(tmp_path / "final.csv", ROWS[4:], "csv")
    data = load_text_dataset(str(tmp_path), splits_map=["validation=heldout", "test=final"])
    assert {s: len(d) for s, d in data.items()} == {"train": 10, "validation": 4, "test": 6}


def test_a_config_or_revision_for_local_data_is_refused():
    with pytest.raises(LlmdiscError, match="data_config and revision name a Hub data set"):
        load_text_dataset("demo", data_config="sst2")


def test_the_data_flags_of_the_commands(fake_hub):
    from llmdisc.cli import make_parser
    from llmdisc.commands.compare import CompareConfig
    from llmdisc.plumbing.config import parse_config

    args = make_parser().parse_args(
        [
            "compare",
            "--data",
            "nyu-mll/glue",
            "--data-config",
            "sst2",
            "--data-revision",
            "main",
            "--splits-map",
            "validation=dev",
            "--label-names",
            "negative,positive",
        ]
    )
    config = parse_config(CompareConfig, args)
    assert (config.data_config, config.data_revision, config.splits_map) == ("sst2", "main", ["validation=dev"])
    assert len(config.load()["validation"]) == 4
    assert config.describe() == "nyu-mll/glue (sst2) @ main"


# ---- input that was silently damaged (issue 29) --------------------------------------------------


def test_spaces_around_string_labels_are_stripped_with_a_count(tmp_path, caplog):
    # "pos " and "pos" were two classes: four classes from two, and no word about it.
    rows = [(t, y + " " if i % 3 == 0 else y) for i, (t, y) in enumerate(ROWS * 3)]
    write(tmp_path / "train.csv", rows, "csv")
    write(tmp_path / "test.csv", [(t, " " + y) for t, y in ROWS[:4]], "csv")
    with caplog.at_level("INFO"):
        ds = load_text_dataset(str(tmp_path))
    assert label_names(ds) == ["negative", "positive"]
    assert sorted(set(ds["test"]["label"])) == [0, 1]
    changed = sum(1 for i in range(len(rows)) if i % 3 == 0) + 4
    notes = [r.getMessage() for r in caplog.records if "spaces" in r.getMessage()]
    assert notes == [f"stripped the spaces around {changed} labels (such as 'positive ' -> 'positive')"], notes


def test_a_label_of_spaces_only_is_a_missing_label(tmp_path):
    write(tmp_path / "t.csv", ROWS + [("fine", "  ")], "csv")
    with pytest.raises(LlmdiscError, match="1 rows with no label in column 'label'"):
        load_text_dataset(str(tmp_path / "t.csv"))


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path, fmt):
    path = write(tmp_path / f"t.{fmt}", ROWS, fmt)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # as Excel and Notepad write "UTF-8"
    for column in (None, "text"):
        ds = load_text_dataset(str(path), text_column=column, validation_size=0)
        assert ds["train"]["text"] == [t for t, _ in ROWS]


def test_a_text_or_label_column_of_lists_is_one_line(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = [[t] for t, _ in ROWS]
    pq.write_table(pa.table({"text": texts, "label": [y for _, y in ROWS]}), tmp_path / "texts.parquet")
    with pytest.raises(LlmdiscError, match=r"train split: column 'text' holds lists, not texts \(row 1: \['a warm"):
        load_text_dataset(str(tmp_path / "texts.parquet"))
    pq.write_table(pa.table({"text": [t for t, _ in ROWS], "label": [[y] for _, y in ROWS]}), tmp_path / "l.parquet")
    with pytest.raises(LlmdiscError, match=r"column 'label' holds lists, not one label per row .multi-label"):
        load_text_dataset(str(tmp_path / "l.parquet"))
