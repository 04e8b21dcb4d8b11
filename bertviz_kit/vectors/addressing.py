"""One way to point at a word or a token of an :class:`~bertviz_kit.encoding.Encoding`.

Every function that picks one position (``plot_histogram``, ``plot_attention``,
``plot_rollout``, ``explore``, ``layer_similarity``, the command line) reads it
the same way:

* a **word string**, matched case-insensitively against whole words
  (``e.words``), never against word pieces, so ``"Bank"`` finds ``bank`` in an
  uncased model and ``"unbelievably"`` finds the word that the tokenizer split
  into ``un ##bel ##ie ##va ##bly``; ``occurrence=k`` picks the k-th
  occurrence (0 is the first, -1 the last; default the first);
* a **word index** (an int given as ``word=``, or as ``i``/``j`` of
  ``layer_similarity``): position in ``e.words``, what :func:`bertviz_kit.find`
  returns;
* a **token index** (an int given as ``token=``): position in ``e.tokens``.

Where a function needs a token and gets a word, it takes the word's first
piece. Titles and labels number words the same way everywhere: ``word 12
'bat'`` (special tokens by their text, ``'[CLS]'``; a piece of a split word as
``word 3 'unbelievably', piece '##bel'``).
"""

from __future__ import annotations

import torch

from .._validation import (
    Boolean,
    Constraint,
    Instance,
    InvalidParameterError,
    Options,
    as_index,
    check,
    is_int,
    validate_params,
)
from ..encoding import IS_ENCODING, Encoding

__all__ = ["occurrence_labels", "attention_units"]

#: Words listed in "does not occur" messages before the list is cut.
_MAX_LISTED = 30


def _matches(e: Encoding, word: str, ignore_case: bool = True) -> list[int]:
    key = word.casefold() if ignore_case else word
    return [i for i, w in enumerate(e.words) if (w.casefold() if ignore_case else w) == key]


def _context_label(e: Encoding, i: int) -> str:
    """Word ``i`` with a neighbour for context: 'bank vault', 'river bank'.

    The next word when it is alphanumeric, otherwise the previous word, otherwise
    the word alone.
    """
    words = e.words
    if i + 1 < len(words) and words[i + 1].isalnum():
        return f"{words[i]} {words[i + 1]}"
    if i > 0:
        return f"{words[i - 1]} {words[i]}"
    return words[i]


def _word_string(word: object, name: str) -> str:
    if not isinstance(word, str) or not word.strip():
        raise InvalidParameterError(f"{name} must be a non-empty string; got {word!r}.")
    word = word.strip()
    if len(word.split()) > 1:
        raise InvalidParameterError(
            f"{name} must be one word as the tokenizer splits words; got {word!r} "
            f"({len(word.split())} words). Pick one of them.")
    return word


def _listed(words: tuple[str, ...]) -> str:
    shown = ", ".join(repr(w) for w in words[:_MAX_LISTED])
    return shown + (f", ... ({len(words)} words)" if len(words) > _MAX_LISTED else "")


def _occurrence(e: Encoding, word: str, occurrence: object, name: str) -> int:
    """Word index of occurrence ``occurrence`` (None: the first) of ``word``."""
    hits = _matches(e, word)
    if not hits:
        pieces = [t for t, w in zip(e.tokens, e.word_ids) if w is not None and t.casefold() == word.casefold()]
        hint = (f" ({word!r} is a piece of a longer word here: words are matched whole)" if pieces else "")
        raise InvalidParameterError(
            f"{name} {word!r} does not occur in this text{hint}; its words are: {_listed(e.words)}.")
    if occurrence is None:
        return hits[0]
    n = len(hits)
    if isinstance(occurrence, bool) or not isinstance(occurrence, int) or not -n <= occurrence < n:
        times = "once" if n == 1 else f"{n} times"
        labels = ", ".join(repr(_context_label(e, i)) for i in hits)
        raise InvalidParameterError(
            f"occurrence must be an int in [{-n}, {n - 1}]: {word!r} occurs {times} ({labels}); "
            f"got {occurrence!r}.")
    return hits[occurrence]


def resolve_word(e: Encoding, word: object, occurrence: object = None, *, name: str = "word") -> int:
    """Word index (into ``e.words``) of a word reference.

    Parameters
    ----------
    e : Encoding
    word : int, str or (str, int)
        A word index (negative counts from the end), a word string
        (case-insensitive, whole words), or a ``(word string, occurrence)`` pair.
    occurrence : int, optional
        Which occurrence of a word string (0 = the first, default; -1 = the last).
    name : str
        The parameter's name, for error messages.
    """
    check("e", e, IS_ENCODING)
    word, occurrence = as_index(word), as_index(occurrence)
    if isinstance(word, tuple):
        if len(word) != 2 or occurrence is not None:
            raise InvalidParameterError(
                f"{name} as a pair must be (word string, occurrence), without occurrence=; got {word!r}.")
        word, occurrence = word[0], as_index(word[1])
        if not isinstance(word, str):
            raise InvalidParameterError(f"{name} as a pair must be (word string, occurrence); got {word!r}.")
    if isinstance(word, str):
        return _occurrence(e, _word_string(word, name), occurrence, name)
    n = e.n_words
    if isinstance(word, bool) or not isinstance(word, int) or not -n <= word < n:
        span = f"in [{-n}, {n - 1}]" if n else "(this text has no words)"
        raise InvalidParameterError(
            f"{name} must be a word index {span}, a word string or a (word, occurrence) pair "
            f"(see e.words or bk.find); got {word!r}.")
    if occurrence is not None:
        raise InvalidParameterError(
            f"occurrence goes with a word string, not with a word index; got {name}={word!r}, "
            f"occurrence={occurrence!r}.")
    return word % n


def resolve_token(
    e: Encoding, token: object = None, word: object = None, occurrence: object = None,
    *, default: int | None = None, name: str = "token",
) -> int:
    """Token index (into ``e.tokens``) from ``token=`` or ``word=`` (at most one of them).

    ``token``: a token index, or a string: a special token's text (``"[CLS]"``)
    or a word (as ``word``). ``word``: a word index or a word string; the word's
    first piece is returned. ``occurrence`` goes with a string. With neither,
    ``default`` (an error when it is None). ``name`` is ``token``'s name in messages.
    """
    check("e", e, IS_ENCODING)
    token, word, occurrence = as_index(token), as_index(word), as_index(occurrence)
    if token is not None and word is not None:
        raise InvalidParameterError(
            f"give {name}= or word=, not both; got {name}={token!r} and word={word!r}.")
    if token is None and word is None:
        if occurrence is not None:
            raise InvalidParameterError("occurrence goes with a word string (token= or word=); none was given.")
        if default is None:
            raise InvalidParameterError("give a token index, a word index or a word string (token= or word=).")
        return default
    if isinstance(token, str):
        key = token.strip()
        specials = [i for i, (t, w) in enumerate(zip(e.tokens, e.word_ids)) if w is None and t == key]
        if specials and not _matches(e, key):  # "[CLS]", "[SEP]": special tokens by their text
            return _occurrence_of_special(specials, key, occurrence)
        return _first_token(e, resolve_word(e, token, occurrence, name=name))
    if token is not None:
        n = e.n_tokens
        if isinstance(token, bool) or not isinstance(token, int) or not -n <= token < n:
            raise InvalidParameterError(
                f"{name} must be a token index in [{-n}, {n - 1}] or a word string; got {token!r}.")
        if occurrence is not None:
            raise InvalidParameterError(
                f"occurrence goes with a word string, not with a token index; got {name}={token!r}, "
                f"occurrence={occurrence!r}.")
        return token % n
    return _first_token(e, resolve_word(e, word, occurrence, name="word"))


def _occurrence_of_special(specials: list[int], key: str, occurrence: object) -> int:
    if occurrence is None:
        return specials[0]
    n = len(specials)
    if isinstance(occurrence, bool) or not isinstance(occurrence, int) or not -n <= occurrence < n:
        raise InvalidParameterError(
            f"occurrence must be an int in [{-n}, {n - 1}]: {key!r} occurs {n} time(s); got {occurrence!r}.")
    return specials[occurrence]


def _first_token(e: Encoding, w: int) -> int:
    return e.word_ids.index(w)


def describe_token(e: Encoding, t: int) -> str:
    """Title text for token ``t``: ``word 5 'bank'``, ``'[CLS]'`` or ``word 3 'unbelievably', piece '##bel'``."""
    w = e.word_ids[t]
    if w is None:
        return repr(e.tokens[t])
    if e.word_ids.count(w) > 1:
        return f"word {w} {e.words[w]!r}, piece {e.tokens[t]!r}"
    return f"word {w} {e.words[w]!r}"


def describe_word(e: Encoding, w: int) -> str:
    """Title text for word ``w``: ``word 5 'bank'``."""
    return f"word {w} {e.words[w]!r}"


@validate_params({"e": IS_ENCODING, "word": Instance(str, label="a string"), "ignore_case": Boolean()})
def occurrence_labels(e: Encoding, word: str, ignore_case: bool = True) -> list[str]:
    """A short label with context for every occurrence of ``word``, in text order.

    Each occurrence is shown with its next word when that is a word (not
    punctuation), otherwise with the word before it: for the bank sentence
    ``["bank vault", "bank robber", "river bank"]``. The words keep their
    case in the text. Use them as heatmap labels or curve names next to
    ``bk.find(e, word)``, which returns the same occurrences' word indices.

    Parameters
    ----------
    e : Encoding
    word : str
        A whole word, as for :func:`bertviz_kit.find`.
    ignore_case : bool, default True

    Returns
    -------
    list of str
        One label per occurrence.

    Raises
    ------
    InvalidParameterError
        When the word does not occur (the message lists the text's words).
    """
    key = _word_string(word, "word")
    hits = _matches(e, key, ignore_case)
    if not hits:
        raise InvalidParameterError(f"word {key!r} does not occur in this text; its words are: {_listed(e.words)}.")
    return [_context_label(e, i) for i in hits]


# ---------------------------------------------------------------------------
# Units: a word (all its pieces) or one special token, the rows of word-level attention
# ---------------------------------------------------------------------------

#: ``specials`` choices of :func:`bertviz_kit.word_attention` and :func:`attention_units`.
ATTENTION_SPECIALS = ("include", "exclude")


def token_units(e: Encoding) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(unit of each token [T], special flag of each unit [U], first token of each unit [U])``.

    A unit is a word (all its pieces) or one special token, numbered in text
    order. A new unit starts at every special token and wherever the word
    changes; pieces of one word are contiguous in every tokenizer we know.
    """
    wi = e.word_index
    special = wi < 0
    start = torch.ones_like(special)
    start[1:] = special[1:] | (wi[1:] != wi[:-1])
    unit = start.long().cumsum(0) - 1
    return unit, special[start], torch.nonzero(start).squeeze(1)


@validate_params({"e": IS_ENCODING, "specials": Options(ATTENTION_SPECIALS)})
def attention_units(e: Encoding, specials: str = "include") -> tuple[str, ...]:
    """Labels of the rows and columns of :func:`bertviz_kit.word_attention`, in text order.

    Words are labelled with their text (``e.words``); special tokens keep
    their token string (``"[CLS]"``, ``"[SEP]"``).

    Parameters
    ----------
    e : Encoding
    specials : {"include", "exclude"}, default "include"
        As in :func:`bertviz_kit.word_attention`.

    Returns
    -------
    tuple of str, length ``n_units`` (``n_words``, plus the special tokens
    with ``specials="include"``)
    """
    _, unit_special, first = token_units(e)
    labels = []
    for u, t in enumerate(first.tolist()):
        if bool(unit_special[u]):
            if specials == "include":
                labels.append(e.tokens[t])
        else:
            labels.append(e.words[e.word_ids[t]])
    return tuple(labels)


class WordArg(Constraint):
    """A word or token reference: an int index, a string, or a ``(string, occurrence)`` pair.

    Which index exists depends on the text, so the body checks the range. ``data``
    names the argument holding the :class:`Encoding` (``"self.e"``: an attribute of
    one) so that a refused value gets the message :func:`resolve_word` (or, with
    ``token=True``, :func:`resolve_token`) gives.
    """

    def __init__(self, data: str | None = None, *, token: bool = False, pair: bool = True) -> None:
        self.data, self.token, self.pair = data, token, pair

    def ok(self, value: object) -> bool:
        if isinstance(value, tuple):
            return self.pair and len(value) == 2 and isinstance(value[0], str) and is_int(value[1])
        return isinstance(value, str) or is_int(value)

    def describe(self) -> str:
        kind = "a token index, a word string" if self.token else "a word index, a word string"
        return f"{kind} or a (word, occurrence) pair" if self.pair else kind

    def message(self, name: str, value: object, arguments: object) -> str | None:
        if self.data is None:
            return None
        head, *rest = self.data.split(".")
        e = arguments.get(head)  # type: ignore[attr-defined]
        for attr in rest:
            e = getattr(e, attr, None)
        if not isinstance(e, Encoding):
            return None
        try:
            if self.token:
                resolve_token(e, value, name=name)
            else:
                resolve_word(e, value, name=name)
        except InvalidParameterError as err:
            return str(err)
        return None
