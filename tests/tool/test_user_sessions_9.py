"""What a demanding user meets, ninth round: the attention map of a short
sentence or of long pieces; a serve request that gives a field twice;
`evaluate --columns` counted from the end; `--data` given twice;
`evaluate --output /dev/stdout` (a pipe, a device or a link), also with
stdout sent to a file; a --json file without its last newline;
`translate RUN --beam 2 -- -x` (sentences after `--` and options); a
write that fails for want of space, unnamed.

Each test pins one defect, on the tiny run of `conftest.py` or files the
test writes; none trains a model.
"""

import json
import os
import stat

import pytest
from cli_support import one_error_line
from PIL import Image

from keras_seq2seq.cli import main
from keras_seq2seq.nmt import plot, serve
from keras_seq2seq.nmt.translator import Hypothesis, Translator


def _clipped_labels(figure):
    """The texts of `figure`'s tick and axis labels that reach past its
    edges (cut off in the PNG)."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    edge = figure.bbox
    clipped = []
    for axes in figure.axes:
        for text in (
            *axes.get_xticklabels(),
            *axes.get_yticklabels(),
            axes.xaxis.label,
            axes.yaxis.label,
        ):
            if not text.get_text():
                continue
            box = text.get_window_extent(renderer)
            if (
                box.x0 < edge.x0 - 0.5
                or box.y0 < edge.y0 - 0.5
                or box.x1 > edge.x1 + 0.5
                or box.y1 > edge.y1 + 0.5
            ):
                clipped.append(text.get_text())
    return clipped


def test_the_attention_map_of_a_short_sentence_or_long_pieces_is_not_cut(
    trained_run, trained_translator, tmp_path, capsys
):
    # "Go.": the colour bar's numbers and the axis names were cut off.
    output = tmp_path / "go.png"
    assert main(["plot", str(trained_run), "Go.", "--output", str(output)]) == 0
    [[best]] = trained_translator.translate(["Go."])
    assert _clipped_labels(plot.attention_figure(best)) == []
    with Image.open(output) as image:  # the size the figure says
        width, height = plot.attention_figure(best).get_size_inches()
        assert image.size == (round(width * plot.DPI), round(height * plot.DPI))
    # Pieces of a large vocabulary: the map makes room for their labels.
    source = ["\u2581international", "ization", "."]
    target = ["\u2581internacionalizaci\u00f3n", "."]
    attention = [[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]
    long = Hypothesis("x", 0.0, source, target, attention)
    assert _clipped_labels(plot.attention_figure(long)) == []


def test_a_serve_request_giving_a_field_twice_is_refused(trained_run):
    # JSON keeps the last of two equal keys: the first sentences were
    # dropped without a word, and the answer looked complete.
    translator = Translator.load(trained_run)
    limits = serve.Limits()
    body = b'{"sentences": ["Go.", "Hi."], "beam": 1, "sentences": ["Run."]}'
    with pytest.raises(serve.RequestError) as refused:
        serve.parse_request(body, limits, translator)
    assert refused.value.status == 400
    assert "'sentences' is given twice" in str(refused.value)
    # A key inside a sentence's text is text; one field each is a request.
    body = b'{"sentences": ["{\\"beam\\": 2}"], "beam": 2}'
    assert serve.parse_request(body, limits, translator)[1] == 2


def test_evaluate_refuses_a_negative_column_as_train_does(
    trained_run, corpus, capsys
):
    # Python's indexing read -1 as the last column: the target, scored
    # against itself (BLEU 11 on this run), where `train` refuses -1.
    argv = ["evaluate", str(trained_run), "--data", str(corpus / "test.tsv")]
    assert main([*argv, "--columns", "-1", "1"]) == 1
    one_error_line(capsys, "--columns", ">= 0", "-1 1")
    assert main([*argv, "--columns", "1", "0"]) == 0  # reversed: fine


def test_data_given_twice_is_a_usage_error_not_the_last_one(
    trained_run, corpus, tmp_path, capsys, no_training
):
    # argparse kept the last --data: `evaluate --data a.tsv --data b.tsv`
    # scored b.tsv alone, and `train` trained on b.tsv alone, silently.
    test, dev = str(corpus / "test.tsv"), str(corpus / "dev.tsv")
    for argv in (
        ["evaluate", str(trained_run), "--data", test, "--data", dev],
        ["evaluate", "--data", test, "--data", dev, str(trained_run)],
        ["train", "--runs-dir", str(tmp_path), "--data", test, "--data", dev],
        ["train", "--runs-dir", str(tmp_path), "--dev", test, "--dev", dev],
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        flag = argv[argv.index(test) - 1]
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert f"{flag} given twice ({test}, then {dev})" in err, err
    assert no_training == []
    # Once, with two files, is a corpus of two aligned files.
    argv = ["train", "--runs-dir", str(tmp_path), "--data", test, dev]
    assert main(argv) == 1  # both are TSV files: refused, as ever
    assert "both tab-separated" in capsys.readouterr().err


def test_evaluate_writes_into_a_pipe_or_a_link_and_leaves_it_one(
    trained_run, corpus, tmp_path, capsys
):
    # `--output /dev/stdout`, `--json /dev/null`: the atomic write moved
    # a new regular file over the pipe or device (as root, /dev/null
    # became a file for every program) and wrote nothing where asked. A
    # pipe made here stands for them; a link stands for a user's link.
    pipe, real = tmp_path / "pipe", tmp_path / "scores.json"
    os.mkfifo(pipe)
    link = tmp_path / "link.json"
    link.symlink_to(real.name)
    real.write_text("{}")
    reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
    try:
        argv = ["evaluate", str(trained_run), "--data"]
        argv += [str(corpus / "test.tsv"), "--output", str(pipe)]
        assert main([*argv, "--json", str(link)]) == 0
        written = os.read(reader, 1 << 16).decode("utf-8")
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode)
    assert len(written.splitlines()) == 12  # one translation per pair
    assert link.is_symlink() and '"bleu"' in real.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "link.json",
        "pipe",
        "scores.json",
    ]
    # `--output /dev/stdout > file`: the shell's file, through its
    # descriptor; a new file in its place would leave stdout's behind.
    with open(tmp_path / "out.txt", "w", encoding="utf-8") as out:
        argv[-1] = f"/proc/self/fd/{out.fileno()}"
        assert main(argv) == 0
        assert os.fstat(out.fileno()).st_ino == os.stat(out.name).st_ino
    assert len((tmp_path / "out.txt").read_text().splitlines()) == 12
    capsys.readouterr()


def test_evaluate_output_to_dev_stdout_into_a_file_keeps_every_line(
    trained_run, corpus, tmp_path, monkeypatch, capsys
):
    # `evaluate --output /dev/stdout > out.txt`: opened again, the file
    # was written from its start, and the score lines printed after
    # overwrote the translations. Through stdout itself, both stay.
    with open(tmp_path / "out.txt", "w", encoding="utf-8") as out:
        monkeypatch.setattr("sys.stdout", out)
        argv = ["evaluate", str(trained_run), "--data"]
        argv += [str(corpus / "test.tsv")]
        assert main([*argv, "--output", f"/dev/fd/{out.fileno()}"]) == 0
    lines = (tmp_path / "out.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 12 + 3  # the translations, then the scores
    assert lines[12].startswith("12 sentences, beam 1: BLEU")


def test_the_evaluate_json_file_ends_its_last_line(
    trained_run, corpus, tmp_path, capsys
):
    # `cat s.json` ran into the prompt, and `--json /dev/stdout` glued
    # the summary line to the closing brace: "}12 sentences, ...".
    scores = tmp_path / "s.json"
    argv = ["evaluate", str(trained_run), "--data", str(corpus / "dev.tsv")]
    assert main([*argv, "--json", str(scores)]) == 0
    text = scores.read_text(encoding="utf-8")
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert json.loads(text)["n"] == 12


def test_translate_takes_sentences_after_options_and_a_double_dash(
    trained_run, capsys
):
    # `--` ends the options, so a sentence may start with "-"; after an
    # option it was left to the launcher, which refused it and the rest
    # as "unrecognized arguments".
    argv = ["translate", str(trained_run), "--beam", "2", "--n-best", "2"]
    assert main([*argv, "--", "-x", "Go."]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" ||| ")[0] for line in lines] == ["0", "0", "1", "1"]
    assert main([*argv, "Hi.", "--", "-x"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4
    # An option among the sentences is still unknown before `--`.
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "Hi.", "--beams", "3"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: " in err and "--beams 3" in err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_a_write_that_finds_no_space_names_the_file(
    trained_run, corpus, capsys
):
    # /dev/full answers every write "no space left", as a full disk does:
    # the error line said "OSError: [Errno 28] ..." and named no file.
    argv = ["evaluate", str(trained_run), "--data", str(corpus / "test.tsv")]
    assert main([*argv, "--output", "/dev/full"]) == 1
    one_error_line(capsys, "/dev/full: No space left on device")
