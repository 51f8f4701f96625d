"""Configs: YAML fills, flags override, unknown keys are errors listing the valid ones."""

from __future__ import annotations

import pytest

from llmdisc import LlmdiscError
from llmdisc.commands.compare import CompareConfig, make_parser
from llmdisc.plumbing.config import config_from_dict, parse_config


def parse(argv):
    return parse_config(CompareConfig, make_parser().parse_args(argv))


def test_yaml_fills_and_flags_override(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: some/folder\napproaches: [naive_bayes]\nseed: 3\nvalidation_size: 2e-1\n")
    config = parse(["--config", str(path), "--seed", "5"])
    assert config.data == "some/folder" and config.approaches == ["naive_bayes"]
    assert config.seed == 5 and config.validation_size == pytest.approx(0.2)
    assert config.splits == ["validation", "test"]  # default


def test_flags_alone_and_list_coercion():
    config = parse(
        [
            "--approaches",
            "naive_bayes,logistic_regression",
            "--sizes",
            "8,32,all",
            "--seeds",
            "3",
            "--drop-rates",
            "0,0.5",
        ]
    )
    assert config.approaches == ["naive_bayes", "logistic_regression"]
    assert (config.sizes, config.seeds, config.drop_rates) == (["8", "32", "all"], 3, [0.0, 0.5])


def test_unknown_yaml_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("data: demo\nsead: 3\n")
    with pytest.raises(LlmdiscError, match=r"unknown bad.yaml key\(s\): sead; valid keys: seed, data, "):
        parse(["--config", str(path)])


def test_bad_values_and_files(tmp_path):
    with pytest.raises(LlmdiscError, match="cannot read 'many' as int"):
        parse(["--seed", "many"])
    with pytest.raises(LlmdiscError, match="config file not found"):
        parse(["--config", str(tmp_path / "none.yaml")])
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(LlmdiscError, match="must hold a mapping"):
        parse(["--config", str(tmp_path / "list.yaml")])


def test_config_from_dict_tuple_and_optional():
    from llmdisc.classifiers.classical import NaiveBayesClassifier

    config = config_from_dict(NaiveBayesClassifier.Config, {"ngram_range": [1, 3], "max_features": "none"})
    assert config.ngram_range == (1, 3) and config.max_features is None


def test_json_lists_escapes_and_union_errors(tmp_path):
    from llmdisc.classifiers.zeroshot import ZeroShotClassifier
    from llmdisc.commands import train

    parser = train.make_parser()
    args = parser.parse_args(
        ["zeroshot", "--templates", '["Review: {text}, so {label}"]', "--content-free", "none\\tgiven"]
    )
    _, approach = train._split_values("zeroshot", args)
    config = config_from_dict(ZeroShotClassifier.Config, approach)
    assert config.templates == ["Review: {text}, so {label}"] and config.content_free == "none\tgiven"
    (tmp_path / "c.yaml").write_text("data: [a.csv]\n")
    with pytest.raises(LlmdiscError, match=r"c.yaml.data: cannot read \['a.csv'\] as str or dict"):
        parse(["--config", str(tmp_path / "c.yaml")])
