"""The attention heat map of one translation, as a PNG."""

import os

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from keras_seq2seq.nmt.atomic import write_atomically

DPI = 100
CELL_INCHES = 0.32  # one source or target piece
MARGIN_INCHES = (1.6, 1.4)  # room for the labels: (width, height)


def figure_inches(n_source: int, n_target: int) -> tuple[float, float]:
    """Figure `(width, height)` in inches for a map of that many pieces."""
    width = MARGIN_INCHES[0] + CELL_INCHES * max(n_source, 4)
    height = MARGIN_INCHES[1] + CELL_INCHES * max(n_target, 3)
    return round(width, 2), round(height, 2)


def _label(piece: str) -> str:
    # Spaces are invisible on an axis: show them as sentencepiece does.
    return piece.replace(" ", "\u2581") or "\u2581"


def attention_figure(hypothesis) -> Figure:
    """A `Figure`: source pieces on the x axis, output pieces on the y axis.

    Args:
        hypothesis: `nmt.translator.Hypothesis`, with its `attention`
            rows (output pieces) and columns (source pieces).
    """
    source = [_label(p) for p in hypothesis.source_tokens]
    target = [_label(p) for p in hypothesis.target_tokens]
    figure = Figure(figsize=figure_inches(len(source), len(target)), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    weights = hypothesis.attention or [[0.0] * len(source)]
    image = axes.imshow(
        weights,
        cmap="viridis",
        vmin=0.0,
        vmax=1.0,
        aspect="auto",
        interpolation="nearest",
    )
    axes.set_xticks(range(len(source)), source, rotation=90)
    axes.set_yticks(range(len(target)), target)
    axes.set_xlabel("source")
    axes.set_ylabel("output")
    figure.colorbar(image, ax=axes, fraction=0.04, pad=0.02)
    figure.subplots_adjust(left=0.15, right=0.92, top=0.95, bottom=0.2)
    return figure


def save_attention_png(hypothesis, path: str | os.PathLike) -> None:
    """Writes `attention_figure(hypothesis)` to `path` atomically."""
    figure = attention_figure(hypothesis)
    write_atomically(
        path, lambda temporary: figure.savefig(temporary, dpi=DPI, format="png")
    )
