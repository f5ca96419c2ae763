"""What a demanding user meets, ninth round: the attention map of a short
sentence or of long pieces; a serve request that gives a field twice.

Each test pins one defect, on the tiny run of `conftest.py` or files the
test writes; none trains a model.
"""

import pytest
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
    trained_run, tmp_path, capsys
):
    # "Go.": the colour bar's numbers and the axis names were cut off.
    output = tmp_path / "go.png"
    assert main(["plot", str(trained_run), "Go.", "--output", str(output)]) == 0
    [[best]] = Translator.load(trained_run).translate(["Go."])
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
    limits = serve._Limits()
    body = b'{"sentences": ["Go.", "Hi."], "beam": 1, "sentences": ["Run."]}'
    with pytest.raises(serve._RequestError) as refused:
        serve.parse_request(body, limits, translator)
    assert refused.value.status == 400
    assert "'sentences' is given twice" in str(refused.value)
    # A key inside a sentence's text is text; one field each is a request.
    body = b'{"sentences": ["{\\"beam\\": 2}"], "beam": 2}'
    assert serve.parse_request(body, limits, translator)[1] == 2
