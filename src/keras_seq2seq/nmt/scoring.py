"""Corpus scores: sacreBLEU's BLEU and chrF, and exact match."""

import unicodedata

from sacrebleu.metrics import BLEU, CHRF


def score(hypotheses: list[str], references: list[str]) -> dict:
    """BLEU, chrF (sacreBLEU defaults), exact match and their signatures,
    of both sides in NFC: "é" written as one character or as "e" and
    U+0301 (a file saved on macOS) is the same letter, which sacreBLEU
    and `==` compare by code points.

    Returns:
        dict: `bleu` and `chrf` (0..100), `exact_match` (a fraction; see
        `_spaced`), `n`, `bleu_signature`, `chrf_signature`.
    """
    if len(hypotheses) != len(references):
        raise ValueError(
            f"{len(hypotheses)} hypotheses for {len(references)} references"
        )
    n = len(references)
    if n == 0:
        raise ValueError("nothing to score: no references")
    hypotheses = [unicodedata.normalize("NFC", h) for h in hypotheses]
    references = [unicodedata.normalize("NFC", r) for r in references]
    bleu, chrf = BLEU(), CHRF()
    exact = sum(
        _spaced(h) == _spaced(r)
        for h, r in zip(hypotheses, references, strict=True)
    )
    return {
        "bleu": bleu.corpus_score(hypotheses, [references]).score,
        "chrf": chrf.corpus_score(hypotheses, [references]).score,
        "exact_match": exact / n,
        "n": n,
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
    }


def _spaced(text: str) -> str:
    """`text` with each run of spaces one plain space, and none around it.

    French references write "là !" with a no-break space (U+00A0, U+202F)
    before "!", "?" and ":", which sentencepiece reads and writes as a
    plain space: no model matched them exactly, while BLEU and chrF, which
    split at any space, scored the same translation 100.
    """
    return " ".join(text.split())
