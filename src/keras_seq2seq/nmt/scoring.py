"""Corpus scores: sacreBLEU's BLEU and chrF, and exact match."""

from sacrebleu.metrics import BLEU, CHRF


def score(hypotheses: list[str], references: list[str]) -> dict:
    """BLEU, chrF (sacreBLEU defaults), exact match and their signatures.

    Returns:
        dict: `bleu` and `chrf` (0..100), `exact_match` (a fraction, after
        stripping outer spaces), `n`, `bleu_signature`, `chrf_signature`.
    """
    if len(hypotheses) != len(references):
        raise ValueError(
            f"{len(hypotheses)} hypotheses for {len(references)} references"
        )
    n = len(references)
    if n == 0:
        raise ValueError("nothing to score: no references")
    bleu, chrf = BLEU(), CHRF()
    exact = sum(
        h.strip() == r.strip()
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
