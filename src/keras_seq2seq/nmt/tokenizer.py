"""Text to ids and back: characters, or sentencepiece subwords.

Both kinds share the special ids the model is built with: `PAD_ID` 0,
`BOS_ID` 1, `EOS_ID` 2 and `UNK_ID` 3 (an unseen character or piece).
A tokenizer is trained on one side of the training corpus and saved in the
run folder as `<side>.chars.json` (characters) or `<side>.spm` (a
sentencepiece model), so later commands read it back without the corpus.
"""

import io
import json
import os
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import sentencepiece

from keras_seq2seq.nmt.atomic import write_atomically
from keras_seq2seq.nmt.run_error import RunError

PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
SPECIALS = ("<pad>", "<s>", "</s>", "<unk>")
KINDS = ("char", "sentencepiece")
_SUFFIX = {"char": ".chars.json", "sentencepiece": ".spm"}


class Tokenizer:
    """Maps a sentence to ids and pieces, and ids back to a sentence.

    Build one with `Tokenizer.train` or `Tokenizer.load`, not directly.

    Args:
        kind: str. `"char"` or `"sentencepiece"`.
        pieces: list of str. Piece of each id; ids 0..3 are `SPECIALS`.
        processor: optional `sentencepiece.SentencePieceProcessor` for
            `"sentencepiece"`. Defaults to `None`.
    """

    def __init__(self, kind, pieces, processor=None):
        if kind not in KINDS:
            raise ValueError(
                f"`kind` must be one of {KINDS}. Received: kind={kind!r}"
            )
        self.kind = kind
        self.pieces = list(pieces)
        self.processor = processor
        self._ids = {piece: i for i, piece in enumerate(self.pieces)}

    @property
    def vocab_size(self) -> int:
        return len(self.pieces)

    @classmethod
    def train(
        cls, texts: Iterable[str], kind: str, vocab_size: int = 8000
    ) -> "Tokenizer":
        """Learns a vocabulary from `texts` (one side of the training data).

        `vocab_size` is an upper bound for sentencepiece (a small corpus
        gets fewer pieces) and ignored for characters.
        """
        texts = list(texts)
        if kind == "char":
            chars = sorted({c for text in texts for c in text})
            return cls("char", [*SPECIALS, *chars])
        if kind != "sentencepiece":
            raise RunError(f"unknown tokenizer {kind!r}; use one of {KINDS}")
        model = io.BytesIO()
        try:
            sentencepiece.SentencePieceTrainer.train(
                sentence_iterator=iter(texts),
                model_writer=model,
                vocab_size=vocab_size,
                hard_vocab_limit=False,  # a small corpus: fewer pieces
                character_coverage=1.0,
                pad_id=PAD_ID,
                bos_id=BOS_ID,
                eos_id=EOS_ID,
                unk_id=UNK_ID,
                input_sentence_size=1_000_000,
                shuffle_input_sentence=True,
                minloglevel=2,
            )
        except RuntimeError as error:
            # With full character coverage every character needs a piece.
            if "smaller than required_chars" not in str(error):
                raise
            chars = len({c for text in texts for c in text})
            raise RunError(
                f"vocab-size {vocab_size} is too small: a side of the "
                f"corpus has about {chars} distinct characters, each needs "
                "a piece; raise --vocab-size or use --tokenizer char"
            ) from None
        return cls._from_spm_bytes(model.getvalue())

    @classmethod
    def _from_spm_bytes(cls, data: bytes) -> "Tokenizer":
        processor = sentencepiece.SentencePieceProcessor(model_proto=data)
        pieces = [processor.id_to_piece(i) for i in range(len(processor))]
        pieces[: len(SPECIALS)] = SPECIALS
        tokenizer = cls("sentencepiece", pieces, processor)
        tokenizer._spm_bytes = data
        return tokenizer

    def encode(self, text: str) -> list[int]:
        """The ids of `text`, without bos or eos. Control and format
        characters the vocabulary lacks are dropped (`_unread`)."""
        if not text.isprintable():  # most text is: no character dropped
            text = "".join(c for c in text if not self._unread(c))
        if self.processor is not None:
            return list(self.processor.encode(text, out_type=int))
        ids = self._char_ids(text)
        if UNK_ID not in ids:
            return ids
        # "ó" may be typed as "o" and a combining accent (U+0301), or the
        # corpus may be written so: the same text to a reader, two unknown
        # pieces to the vocabulary. A digit may come full width ("９", an
        # East Asian keyboard), a space as a no-break space (a web page),
        # "fi" as a ligature (a PDF). Sentencepiece normalises (NFKC); here
        # the form with the fewest unknown pieces is read, canonical forms
        # before compatibility ones, the text as given when it reads as
        # well.
        forms = [
            self._char_ids(unicodedata.normalize(form, text))
            for form in ("NFC", "NFD", "NFKC", "NFKD")
        ]
        return min([ids, *forms], key=lambda found: found.count(UNK_ID))

    def _unread(self, char: str) -> bool:
        """Whether `char` is a control or format character (a terminal's
        escape, NUL, a zero-width space, a direction mark) that the
        vocabulary lacks: no text to read, as sentencepiece drops most of
        them itself. A line of only such characters is then blank, where
        the model made a translation up from its unknown pieces."""
        if char.isspace() or unicodedata.category(char) not in ("Cc", "Cf"):
            return False
        if self.processor is not None:
            return self.processor.piece_to_id(char) == UNK_ID
        return char not in self._ids

    def _char_ids(self, text: str) -> list[int]:
        return [self._ids.get(c, UNK_ID) for c in text]

    def tokens(self, ids: Iterable[int]) -> list[str]:
        """The piece of each id (sentencepiece marks a word start with ▁)."""
        return [self.pieces[i] for i in ids]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of `ids`; special ids (pad, bos, eos) are dropped."""
        ids = [int(i) for i in ids if i not in (PAD_ID, BOS_ID, EOS_ID)]
        if self.processor is not None:
            return self.processor.decode(ids)
        return "".join(
            "\N{REPLACEMENT CHARACTER}" if i == UNK_ID else self.pieces[i]
            for i in ids
        )

    def save(self, folder: str | os.PathLike, side: str) -> Path:
        """Writes `folder/<side>.chars.json` or `folder/<side>.spm`."""
        path = Path(folder) / f"{side}{_SUFFIX[self.kind]}"
        if self.kind == "char":
            data = json.dumps({"pieces": self.pieces}, ensure_ascii=False)
            _write_atomic(path, data.encode("utf-8"))
        else:
            _write_atomic(path, self._spm_bytes)
        return path

    @classmethod
    def load(cls, folder: str | os.PathLike, side: str, kind: str):
        """Reads what `save` wrote; a `RunError` if missing or unreadable."""
        if kind not in KINDS:
            raise RunError(f"unknown tokenizer {kind!r} in the run's config")
        path = Path(folder) / f"{side}{_SUFFIX[kind]}"
        if not path.is_file():
            raise RunError(
                f"no {side} vocabulary {path.name} in {folder}; "
                "the run folder is incomplete, train it again"
            )
        try:
            if kind == "char":
                pieces = json.loads(path.read_text("utf-8"))["pieces"]
                if list(pieces[: len(SPECIALS)]) != list(SPECIALS):
                    raise ValueError("special pieces out of place")
                return cls("char", pieces)
            return cls._from_spm_bytes(path.read_bytes())
        except Exception as error:
            raise RunError(
                f"cannot read the vocabulary {path} ({type(error).__name__}); "
                "it is corrupt, train the run again"
            ) from error


def _saved_file(folder: str | os.PathLike, side: str) -> Path | None:
    """`folder`'s `side` vocabulary file, of either kind; `None` without."""
    for suffix in _SUFFIX.values():
        path = Path(folder) / f"{side}{suffix}"
        if path.is_file():
            return path
    return None


def saved_bytes(folder: str | os.PathLike, side: str) -> bytes | None:
    """The bytes of `folder`'s `side` vocabulary file; `None` without one."""
    path = _saved_file(folder, side)
    return None if path is None else path.read_bytes()


def is_saved(folder: str | os.PathLike, side: str) -> bool:
    """Whether `folder` holds a `side` vocabulary of either kind."""
    return _saved_file(folder, side) is not None


def _write_atomic(path: Path, data: bytes) -> None:
    """Writes `data` to `path` through a temporary file and `os.replace`;
    a failed write leaves no temporary file."""
    write_atomically(path, lambda temporary: temporary.write_bytes(data))
