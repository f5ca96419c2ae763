"""Config resolution: defaults, dates defaults, YAML, flags, checks."""

import pytest

from keras_seq2seq.cli import build_parser
from keras_seq2seq.nmt import config as config_lib
from keras_seq2seq.nmt.run_error import RunError


def test_flags_override_the_file_which_overrides_the_defaults():
    config = config_lib.resolve(
        {"data": ["a.tsv"], "batch_size": 32, "cell": "lstm"},
        {"batch_size": 16},
    )
    assert (config.batch_size, config.cell) == (16, "lstm")
    assert config.tokenizer == "sentencepiece"  # no dates defaults
    assert config.name  # a name is always set


def test_no_data_means_the_dates_corpus_defaults():
    config = config_lib.resolve({}, {})
    assert config.name == "dates" and config.tokenizer == "char"
    for key, value in config_lib.DATES_DEFAULTS.items():
        assert getattr(config, key) == value
    config = config_lib.resolve({"max_minutes": 1.5}, {"tokenizer": "char"})
    assert config.max_minutes == 1.5  # the file still wins over them


def test_run_name_defaults_to_the_corpus_folder(tmp_path):
    corpus = tmp_path / "tatoeba-eng-spa" / "train.tsv"
    config = config_lib.resolve({}, {"data": [str(corpus)]})
    assert config.name == "tatoeba-eng-spa"


@pytest.mark.parametrize(
    "values, message",
    [
        ({"lerning_rate": 1.0}, "did you mean 'learning_rate'"),
        ({"batch_size": "64"}, "batch_size' must be int"),
        ({"bidirectional": 1}, "bidirectional' must be bool"),
        ({"cell": "rnn"}, "cell' must be one of"),
        ({"learning_rate": 0}, "learning_rate must be > 0"),
        ({"columns": [0]}, "columns must be two"),
        ({"encoder_units": 0}, "encoder_units must be >= 1"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
        ({"dropout": -0.2}, r"dropout must be in \[0, 1\)"),
    ],
)
def test_bad_values_raise_one_line_errors(values, message):
    with pytest.raises(RunError, match=message):
        config_lib.resolve(values, {})


def test_model_keys_reach_the_model():
    from keras_seq2seq.nmt.train import build_model

    config = config_lib.resolve({}, {"dropout": 0.25, "cell": "lstm"})
    model = build_model(config, 40, 30)
    assert (model.dropout, model.cell) == (0.25, "lstm")
    assert (model.source_vocab_size, model.target_vocab_size) == (40, 30)


def test_ints_are_accepted_for_floats():
    config = config_lib.resolve({"learning_rate": 1}, {})
    assert config.learning_rate == 1.0 and isinstance(
        config.learning_rate, float
    )


def test_yaml_round_trip_gives_the_same_config(tmp_path):
    config = config_lib.resolve({"data": ["x.tsv"], "columns": [1, 0]}, {})
    path = tmp_path / "config.yaml"
    path.write_text(config_lib.to_yaml(config))
    assert config_lib.from_run(config_lib.read_yaml(path)) == config


def test_every_config_key_is_a_train_flag_with_its_default_in_help():
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    flags = {
        option for action in train._actions for option in action.option_strings
    }
    text = train.format_help()
    for name, field in config_lib.FIELDS.items():
        flag = "--" + name.replace("_", "-")
        assert flag in flags
        default = config_lib.default_of(field)
        assert f"(default: {default})" in " ".join(text.split())


@pytest.mark.parametrize(
    "command", ["train", "translate", "evaluate", "plot", "average"]
)
def test_every_command_help_lists_every_option(command, capsys):
    from keras_seq2seq.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    parser = build_parser()._subparsers._group_actions[0].choices[command]
    for action in parser._actions:
        for option in action.option_strings:
            assert option in text
    assert "--debug" in text
