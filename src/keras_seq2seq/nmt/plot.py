"""The attention heat map of one translation, as a PNG."""

import os
import re
import warnings

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from keras_seq2seq.nmt.atomic import write_atomically

DPI = 100
CELL_INCHES = 0.32  # one source or target piece
MARGIN_INCHES = (1.6, 1.4)  # room for the labels: (width, height), at least
EDGE_INCHES = 0.08  # blank border around the labels
BAR_INCHES = (0.1, 0.12)  # the colour bar: its gap from the map, its width


def figure_inches(
    n_source: int, n_target: int, margins=MARGIN_INCHES
) -> tuple[float, float]:
    """Figure `(width, height)` in inches for a map of that many pieces,
    with `margins` (width, height) around it for the labels and the colour
    bar (`attention_figure` gives more to labels that need it)."""
    width = margins[0] + CELL_INCHES * max(n_source, 4)
    height = margins[1] + CELL_INCHES * max(n_target, 3)
    return round(width, 2), round(height, 2)


def _label(piece: str) -> str:
    # Spaces are invisible on an axis: show them as sentencepiece does.
    return piece.replace(" ", "\u2581") or "\u2581"


def attention_figure(hypothesis) -> Figure:
    """A `Figure`: source pieces on the x axis, output pieces on the y axis.

    The margins are measured from the drawn labels (a piece of a large
    vocabulary is long), so no label is cut off at the figure's edge.

    Args:
        hypothesis: `nmt.translator.Hypothesis`, with its `attention`
            rows (output pieces) and columns (source pieces).
    """
    source = [_label(p) for p in hypothesis.source_tokens]
    target = [_label(p) for p in hypothesis.target_tokens]
    figure = Figure(figsize=figure_inches(len(source), len(target)), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.3, 0.3, 0.4, 0.4))
    bar = figure.add_axes((0.8, 0.3, 0.05, 0.4))
    weights = hypothesis.attention or [[0.0] * len(source)]
    image = axes.imshow(
        weights,
        cmap="viridis",
        vmin=0.0,
        vmax=1.0,
        aspect="auto",
        interpolation="nearest",
    )
    # Pieces as written: Matplotlib reads "$...$" as math (a piece "$x$"
    # was drawn as an italic x, and "$^$" raised a ParseSyntaxException).
    axes.set_xticks(range(len(source)), source, rotation=90, parse_math=False)
    axes.set_yticks(range(len(target)), target, parse_math=False)
    axes.set_xlabel("source")
    axes.set_ylabel("output")
    figure.colorbar(image, cax=bar)
    _place(figure, axes, bar, len(source), len(target))
    return figure


def _place(figure, axes, bar, n_source: int, n_target: int) -> None:
    """Sizes `figure` and places the map `axes` and its colour `bar` in
    it, in inches: the labels' room is what they take when drawn (text
    keeps its size in points whatever the figure's size)."""
    renderer = figure.canvas.get_renderer()

    def overhang(item):  # inches past each side: left, bottom, right, top
        drawn, frame = item.get_tightbbox(renderer), item.get_window_extent()
        return [
            (frame.x0 - drawn.x0) / DPI,
            (frame.y0 - drawn.y0) / DPI,
            (drawn.x1 - frame.x1) / DPI,
            (drawn.y1 - frame.y1) / DPI,
        ]

    map_left, map_bottom, _, map_top = overhang(axes)
    _, bar_bottom, bar_right, bar_top = overhang(bar)
    left = map_left + EDGE_INCHES
    right = sum(BAR_INCHES) + bar_right + EDGE_INCHES
    bottom = max(map_bottom, bar_bottom) + EDGE_INCHES
    top = max(map_top, bar_top, 0.0) + EDGE_INCHES
    margins = (
        max(left + right, MARGIN_INCHES[0]),
        max(bottom + top, MARGIN_INCHES[1]),
    )
    width, height = figure_inches(n_source, n_target, margins)
    map_width = CELL_INCHES * max(n_source, 4)
    map_height = CELL_INCHES * max(n_target, 3)
    # Room to spare (short labels) goes to both sides alike.
    left += (width - map_width - left - right) / 2
    bottom += (height - map_height - bottom - top) / 2
    figure.set_size_inches(width, height)
    axes.set_position(
        (left / width, bottom / height, map_width / width, map_height / height)
    )
    bar_left = left + map_width + BAR_INCHES[0]
    bar.set_position(
        (
            bar_left / width,
            bottom / height,
            BAR_INCHES[1] / width,
            map_height / height,
        )
    )


# Matplotlib's warning for a character its font cannot draw (as a box).
_NO_GLYPH = re.compile(r"^Glyph (\d+) .*missing from font")


def save_attention_png(hypothesis, path: str | os.PathLike) -> list[str]:
    """Writes `attention_figure(hypothesis)` to `path` atomically.

    Returns:
        The characters of the labels that the font has no glyph for
        (Chinese, emoji: drawn as boxes), each once, in order. Matplotlib
        warns twice per character and draw; the caller says it once.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure = attention_figure(hypothesis)
        write_atomically(
            path,
            lambda temporary: figure.savefig(temporary, dpi=DPI, format="png"),
        )
    missing = []
    for warning in caught:
        found = _NO_GLYPH.match(str(warning.message))
        if found is None:  # not ours to quiet
            warnings.warn_explicit(
                warning.message,
                warning.category,
                warning.filename,
                warning.lineno,
            )
        elif chr(int(found[1])) not in missing:
            missing.append(chr(int(found[1])))
    return missing
