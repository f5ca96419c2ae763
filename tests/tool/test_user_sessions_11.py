"""What a demanding user meets, eleventh round: a date typed with
full-width digits or a no-break space on a character run; `evaluate` of
a run trained `--reverse` (or `--columns 1 0`) on its own test file;
corpus-file options (`--reverse`, `--dev`, `--header`, ...) given to a
run on the built-in dates corpus; `evaluate --json -`; `--columns 1 0`
with a dev corpus of two files; `--n-best 3` without a beam (and a serve
request's `n_best` over its beam); the runs folder given as the run; the
start line's dev pairs; an attention map of pieces holding `$`; `name:
2024` in a config file; `--dev-size` beside a dev corpus;
`--dates-train-size` with `--data`.

Each test pins one defect, on the tiny run of `conftest.py`, a copy of
it, or files the test writes; none trains a model (the training loop or
its step is replaced where it would start).
"""

import json
import shutil

import pytest
from cli_support import one_error_line, train_argv, warning_lines

from keras_seq2seq.cli import main
from keras_seq2seq.nmt import serve
from keras_seq2seq.nmt.tokenizer import UNK_ID, Tokenizer
from keras_seq2seq.nmt.translator import Hypothesis, Translator


def test_compatibility_characters_read_as_the_vocabularys_characters():
    # "９/５/１８" (an East Asian keyboard's full-width digits) read as four
    # unknown pieces on a dates run: `translate` answered 2008-05-08 for
    # 9/5/18. Sentencepiece runs (NFKC) read it as "9/5/18"; so does a
    # character run now, and a no-break space (a web page) as a space, a
    # ligature (a PDF) as its letters.
    chars = Tokenizer.train(["9/5/18", "9 may 2018", "fine"], "char")
    assert chars.encode("\uff19/\uff15/\uff11\uff18") == chars.encode("9/5/18")
    assert chars.encode("9\u00a0may\u00a02018") == chars.encode("9 may 2018")
    assert chars.encode("\ufb01ne") == chars.encode("fine")
    assert UNK_ID not in chars.encode("\uff19\u00a0may")
    # What the vocabulary holds as given is read as given.
    both = Tokenizer.train(["\uff19", "9"], "char")
    assert both.encode("\uff19") != both.encode("9")


def _reversed_copy(trained_run, tmp_path, columns=None):
    """A copy of the run whose config.yaml says it was trained reversed
    (Spanish to English on the corpus' `english<TAB>spanish` lines)."""
    run = shutil.copytree(trained_run, tmp_path / "reversed")
    config = (run / "config.yaml").read_text(encoding="utf-8")
    config = config.replace("reverse: false", "reverse: true")
    if columns is not None:
        config = config.replace("reverse: true", "reverse: false")
        config = config.replace("columns:\n- 0\n- 1", columns)
    (run / "config.yaml").write_text(config, encoding="utf-8")
    return run


def _sources_evaluated(monkeypatch, argv):
    """The sources `evaluate argv` translates (the translator is a
    stand-in that echoes them)."""
    given = []

    def translate(self, sentences, **search):
        given.extend(sentences)
        return [[Hypothesis(s, 0.0, [], [], [])] for s in sentences]

    monkeypatch.setattr(Translator, "translate", translate)
    monkeypatch.setattr(Translator, "warm_up", lambda self, s, **o: None)
    assert main(argv) == 0
    return given


def test_evaluate_reads_the_test_file_as_the_run_read_its_corpus(
    trained_run, corpus, tmp_path, monkeypatch, capsys
):
    # `train --data train.tsv --reverse` (Spanish to English), then
    # `evaluate RUN --data test.tsv`: the English column was translated
    # and scored against the Spanish one, BLEU near 0 and no word said.
    test = corpus / "test.tsv"
    english, spanish = zip(
        *(line.split("\t")[:2] for line in test.read_text().splitlines()),
        strict=True,
    )
    spanish = [side.strip() for side in spanish]
    run = _reversed_copy(trained_run, tmp_path)
    argv = ["evaluate", str(run), "--data", str(test)]
    assert _sources_evaluated(monkeypatch, argv) == spanish
    # Given options say the direction: --no-reverse, --columns.
    assert _sources_evaluated(monkeypatch, [*argv, "--no-reverse"]) == list(
        english
    )
    assert _sources_evaluated(
        monkeypatch, [*argv, "--columns", "0", "1"]
    ) == list(english)
    assert _sources_evaluated(monkeypatch, [*argv, "--reverse"]) == spanish
    # Two aligned files are read as the run read them: reversed.
    en, es = tmp_path / "test.en", tmp_path / "test.es"
    en.write_text("".join(f"{s}\n" for s in english), encoding="utf-8")
    es.write_text("".join(f"{s}\n" for s in spanish), encoding="utf-8")
    aligned = ["evaluate", str(run), "--data", str(en), str(es)]
    assert _sources_evaluated(monkeypatch, aligned) == spanish
    # A run trained on --columns 1 0 is read on those columns.
    swapped = _reversed_copy(
        trained_run, tmp_path / "swapped", columns="columns:\n- 1\n- 0"
    )
    argv = ["evaluate", str(swapped), "--data", str(test)]
    assert _sources_evaluated(monkeypatch, argv) == spanish
    # A forward run stays forward.
    argv = ["evaluate", str(trained_run), "--data", str(test)]
    assert _sources_evaluated(monkeypatch, argv) == list(english)


def test_corpus_file_options_without_data_are_refused(
    tmp_path, capsys, no_training
):
    # `seq2seq train --reverse` (or --dev my_dev.tsv, --header, --columns
    # 1 0) without --data trained the dates corpus forward on its own dev
    # split, and config.yaml said `reverse: true`, `dev: my_dev.tsv`.
    dev = tmp_path / "dev.tsv"
    dev.write_text("a\tb\n", encoding="utf-8")
    for options, names in (
        (["--reverse"], ["--reverse"]),
        (["--dev", str(dev)], ["--dev"]),
        (["--header", "--columns", "1", "0"], ["--columns", "--header"]),
        (["--dev-size", "50"], ["--dev-size"]),
    ):
        assert main(train_argv(tmp_path, *options)) == 1
        one_error_line(capsys, "--data", "dates", *names)
        assert not (tmp_path / "runs").exists()
    # The same in a config file.
    config = tmp_path / "run.yaml"
    config.write_text("reverse: true\n", encoding="utf-8")
    assert main(train_argv(tmp_path, "--config", str(config))) == 1
    one_error_line(capsys, "--reverse", "--data")
    # Their defaults, given, are no change.
    defaults = ["--no-reverse", "--columns", "0", "1"]
    argv = train_argv(tmp_path, *defaults, "--dates-train-size", "200")
    assert main([*argv, "--max-steps", "1"]) == 130  # no_training: Ctrl-C
    assert len(no_training) == 1


def test_evaluate_output_dash_is_stdout_not_a_file_named_dash(
    trained_run, corpus, tmp_path, monkeypatch, capsys
):
    # `translate --input -` reads stdin, but `evaluate --json -` wrote
    # the scores to a file named "-" in the current folder.
    monkeypatch.chdir(tmp_path)
    test = str(corpus / "test.tsv")
    argv = ["evaluate", str(trained_run), "--data", test]
    assert main([*argv, "--json", "-"]) == 0
    out = capsys.readouterr().out
    scores, end = json.JSONDecoder().raw_decode(out)
    assert scores["n"] == 12
    assert out[end:].lstrip("\n").startswith("12 sentences")
    argv = [*argv, "--output", "-"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.rstrip("\n").split("\n")
    assert len(lines) == 12 + 3  # the translations, then the scores
    assert lines[12].startswith("12 sentences")
    assert not (tmp_path / "-").exists()
    # Both to stdout would mix them.
    assert main([*argv, "--json", "-"]) == 1
    one_error_line(capsys, "'-'", "stdout")


def test_columns_with_a_dev_corpus_of_two_files_are_refused(
    corpus, tmp_path, capsys, no_training
):
    # `--data train.tsv --columns 1 0 --dev dev.en dev.es`: training read
    # Spanish to English, dev (two files, which columns do not pick) was
    # read English to Spanish, so every validation scored the wrong
    # direction and chose the best model by it.
    en, es = tmp_path / "dev.en", tmp_path / "dev.es"
    en.write_text("Go.\nRun.\n", encoding="utf-8")
    es.write_text("Ve.\nCorre.\n", encoding="utf-8")
    data = ["--data", str(corpus / "train.tsv")]
    argv = train_argv(tmp_path, *data, "--dev", str(en), str(es))
    assert main([*argv, "--columns", "1", "0"]) == 1
    one_error_line(capsys, "--dev", "--columns 1 0", "--reverse")
    assert not (tmp_path / "runs").exists()
    # --reverse swaps both corpora: Spanish to English throughout.
    assert main([*argv, "--reverse", "--max-steps", "1"]) == 130
    assert no_training == [[("Ve.", "Go."), ("Corre.", "Run.")]]


def test_n_best_without_a_beam_says_to_give_the_beam(trained_run, capsys):
    # `translate RUN --n-best 3 "..."` (the beam left at 1) said "n-best
    # must be between 1 and the beam size 1; got 3": what, not how.
    argv = ["translate", str(trained_run), "--n-best", "3", "Hello."]
    assert main(argv) == 1
    one_error_line(capsys, "n-best 3", "--beam-size 3")


def test_the_runs_folder_given_as_the_run_names_its_runs(trained_run, capsys):
    # `seq2seq translate runs "..."` (the runs folder, not a run in it)
    # said only that runs has no config.yaml.
    assert main(["translate", str(trained_run.parent), "Hello."]) == 1
    one_error_line(capsys, "holds runs (tsv)", str(trained_run))


def test_the_start_line_says_how_many_dev_pairs_each_score_reads(
    trained_run, tmp_path, monkeypatch, capsys
):
    # On Tatoeba the start line said "2000 dev pairs" while each
    # validation scored 1000 of them (--validation-size): a reader took
    # the dev scores for the whole dev set's.
    run = shutil.copytree(trained_run, tmp_path / "runs" / "copy")

    def stop(model, x, y):
        raise KeyboardInterrupt  # after the start line, before a step

    monkeypatch.setattr("keras_seq2seq.nmt.train.train_step", stop)
    argv = train_argv(tmp_path, "--resume", "--name", "copy")
    assert main([*argv, "--max-steps", "6", "--validation-size", "5"]) == 130
    err = capsys.readouterr().err
    [start] = [line for line in err.splitlines() if "resuming" in line]
    assert "dev scores every 2 steps, on 5 of them" in start, start
    assert run.is_dir()


def test_the_attention_map_draws_dollar_signs_as_written(
    trained_run, tmp_path, monkeypatch, capsys
):
    # Matplotlib reads "$...$" in a label as math: a piece "$x$" was drawn
    # as an italic x, and "$^$" failed the plot ("ParseSyntaxException").
    from keras_seq2seq.nmt.plot import attention_figure

    found = Hypothesis(
        "$5 $x$", -1.0, ["$^$", "$5"], ["$5", "$x$"], [[0.5] * 2] * 2
    )
    monkeypatch.setattr(Translator, "translate", lambda self, s, **o: [[found]])
    png = tmp_path / "map.png"
    argv = ["plot", str(trained_run), "$^$ $5", "--output", str(png)]
    assert main(argv) == 0, capsys.readouterr().err
    assert png.stat().st_size > 0
    axes = attention_figure(found).axes[0]
    for labels in (axes.get_xticklabels(), axes.get_yticklabels()):
        for label in labels:
            assert not label.get_parse_math(), label.get_text()


def test_a_config_name_yaml_reads_as_a_number_says_to_quote_it(
    tmp_path, capsys, no_training
):
    # `name: 2024` (a run per year) in a config file: YAML reads a number,
    # and the error said "config key 'name' must be str; got 2024", with
    # no word of what to write.
    config = tmp_path / "run.yaml"
    for value, read in (("2024", "a number"), ("yes", "a boolean")):
        config.write_text(f"name: {value}\n", encoding="utf-8")
        assert main(train_argv(tmp_path, "--config", str(config))) == 1
        one_error_line(capsys, str(config), read, "quotes", 'name: "..."')
    config.write_text('name: "2024"\ndates_train_size: 200\n')
    assert main(train_argv(tmp_path, "--config", str(config))) == 130
    assert (tmp_path / "runs").is_dir() is False  # removed: no checkpoint
    assert len(no_training) == 1


def test_a_dev_size_beside_a_dev_corpus_is_said_to_change_nothing(
    corpus, tmp_path, capsys, no_training
):
    # `--data train.tsv --dev-size 100` with a dev.tsv beside it (as in
    # ../shared/data): dev was dev.tsv's pairs, --dev-size was ignored
    # without a word, and a user who wanted faster validations got none.
    data = ["--data", str(corpus / "train.tsv")]
    argv = train_argv(tmp_path, *data, "--dev-size", "5", "--max-steps", "1")
    assert main(argv) == 130  # no_training: stopped before a checkpoint
    [warning] = warning_lines(capsys)
    for word in ("--dev-size 5", "dev.tsv (12 pairs)", "--validation-size"):
        assert word in warning, warning
    assert len(no_training[0]) == 12


def test_serve_says_to_ask_for_a_beam_for_n_best(trained_run):
    # {"sentences": [...], "n_best": 3} (the beam left at 1) answered
    # "'n_best' must be between 1 and 1; got 3": what, not how.
    translator = Translator.load(trained_run)
    limits = serve.Limits()
    for body, beam in (
        (b'{"sentences": ["Go."], "n_best": 3}', "beam"),
        (b'{"sentences": ["Go."], "beam_size": 2, "n_best": 3}', "beam_size"),
    ):
        with pytest.raises(serve.RequestError) as refused:
            serve.parse_request(body, limits, translator)
        assert refused.value.status == 422
        message = str(refused.value)
        assert "'n_best' 3 is more than" in message, message
        assert f"{beam!r} of at least 3" in message, message
    body = b'{"sentences": ["Go."], "n_best": 17, "beam": 16}'
    with pytest.raises(serve.RequestError, match="between 1 and 16"):
        serve.parse_request(body, limits, translator)


def test_a_dates_train_size_with_data_is_said_to_change_nothing(
    corpus, tmp_path, capsys, no_training
):
    # `--data train.tsv --dates-train-size 50000` (a user who wanted more
    # pairs): the option sizes the built-in corpus alone, and was ignored
    # without a word.
    data = ["--data", str(corpus / "train.tsv")]
    argv = train_argv(tmp_path, *data, "--dates-train-size", "50000")
    assert main([*argv, "--max-steps", "1"]) == 130  # no_training
    [warning] = warning_lines(capsys)
    assert "--dates-train-size 50000" in warning, warning
    assert "--data it changes nothing" in warning, warning
