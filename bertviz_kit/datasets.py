"""Small corpora shipped inside the package, with their licences beside them.

Everything here reads files installed with ``bertviz_kit`` (through
:mod:`importlib.resources`), so it works offline, from a wheel or a checkout,
with nothing else on the disk.

* :func:`sentence_polarity`: 10,662 movie-review snippets (5,331 positive,
  5,331 negative), *sentence polarity dataset v1.0* by Bo Pang and Lillian Lee,
  CC BY 4.0.
* :func:`ud_english_ewt`: the dev (2,001 sentences) and test (2,077 sentences)
  splits of the Universal Dependencies English Web Treebank v2.15: words,
  universal POS tags and dependency trees, CC BY-SA 4.0.

:func:`citation` gives the attribution, licence and reference of each one;
the full notices are installed next to the data (``bertviz_kit/data/<name>/``).
"""

from __future__ import annotations

import functools
import numbers
from collections import Counter
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = [
    "NAMES",
    "LICENSES",
    "POLARITY_LABELS",
    "POLARITY_ORDERS",
    "UD_SPLITS",
    "LabelledTexts",
    "UDSentence",
    "sentence_polarity",
    "ud_english_ewt",
    "citation",
]

#: Names of the bundled data sets (the folders under ``bertviz_kit/data/``).
NAMES = ("sentence_polarity", "ud_english_ewt")

#: SPDX identifier of each data set's licence (the code of the package is MIT).
LICENSES = {"sentence_polarity": "CC-BY-4.0", "ud_english_ewt": "CC-BY-SA-4.0"}

#: Labels of :func:`sentence_polarity`, in the order of its ``"grouped"`` layout.
POLARITY_LABELS = ("positive", "negative")

#: Layouts of :func:`sentence_polarity`.
POLARITY_ORDERS = ("interleaved", "grouped")

#: Splits of :func:`ud_english_ewt`.
UD_SPLITS = ("dev", "test")

_POLARITY_FILES = {"positive": "rt-polarity.pos", "negative": "rt-polarity.neg"}
_PER_CLASS = 5331

_CITATIONS = {
    "sentence_polarity": (
        "Sentence polarity dataset v1.0 by Bo Pang and Lillian Lee, licensed under CC BY 4.0\n"
        "(https://creativecommons.org/licenses/by/4.0/).\n"
        "Source: http://www.cs.cornell.edu/people/pabo/movie-review-data/ (rt-polaritydata.tar.gz);\n"
        "line endings converted to Unix, some characters from ISO-8859-1 to UTF-8.\n"
        "Cite: Bo Pang and Lillian Lee (2005). Seeing stars: Exploiting class relationships for\n"
        "sentiment categorization with respect to rating scales. Proceedings of the ACL.\n"
        "Full notice: bertviz_kit/data/sentence_polarity/README.txt"
    ),
    "ud_english_ewt": (
        "Universal Dependencies English Web Treebank (UD_English-EWT) v2.15, dev and test splits,\n"
        "licensed under CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/).\n"
        "Annotations (c) 2013-2021 The Board of Trustees of The Leland Stanford Junior University.\n"
        "Texts from the LDC English Web Treebank (LDC2012T13); some parts are in the public domain,\n"
        "portions may be (c) 2012 Google Inc., (c) 2011 Yahoo! Inc., (c) 2012 Trustees of the\n"
        "University of Pennsylvania and/or other original authors.\n"
        "Cite: Natalia Silveira et al. (2014). A Gold Standard Dependency Corpus for English. LREC 2014.\n"
        "Full notice: bertviz_kit/data/ud_english_ewt/README.md and LICENSE.txt"
    ),
}


def _data(name: str) -> Traversable:
    """The installed folder of one bundled data set."""
    return files("bertviz_kit") / "data" / name


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or name not in NAMES:
        raise ValueError(f"name must be one of {NAMES}; got {name!r}.")
    return name


def _check_count(param: str, value: Any, high: int) -> int | None:
    """``None`` or an int in ``[1, high]`` (numpy integers too, never a bool)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{param} must be None or an int in [1, {high}]; got {value!r} ({type(value).__name__}).")
    if not 1 <= value <= high:
        raise ValueError(f"{param} must be None or an int in [1, {high}]; got {value!r}.")
    return int(value)


def citation(name: str) -> str:
    """Attribution, licence, source and reference of a bundled data set.

    Parameters
    ----------
    name : str
        One of :data:`NAMES`: ``"sentence_polarity"`` or ``"ud_english_ewt"``.

    Returns
    -------
    str
        A few lines to print or paste into a notebook or paper. The full notice
        (and, for UD, the licence text) is installed beside the data.

    Examples
    --------
    >>> import bertviz_kit as bk
    >>> print(bk.datasets.citation("sentence_polarity").splitlines()[0])
    Sentence polarity dataset v1.0 by Bo Pang and Lillian Lee, licensed under CC BY 4.0
    """
    return _CITATIONS[_check_name(name)]


# ----------------------------------------------------------------------------- sentence polarity


class LabelledTexts(NamedTuple):
    """Texts and their labels, row for row; unpacks as ``texts, labels = ...``.

    Attributes
    ----------
    texts : list of str
        ``n`` texts.
    labels : list of str
        ``n`` labels, ``labels[i]`` belongs to ``texts[i]``.
    """

    texts: list[str]
    labels: list[str]

    def __repr__(self) -> str:
        counts = dict(Counter(self.labels))
        return f"LabelledTexts(n={len(self.texts)}, labels={counts})"


@functools.cache
def _polarity_lines(label: str) -> tuple[str, ...]:
    raw = (_data("sentence_polarity") / _POLARITY_FILES[label]).read_text(encoding="utf-8")
    return tuple(line.strip() for line in raw.splitlines() if line.strip())


def sentence_polarity(
    n: int | None = None, *, per_class: int | None = None, order: str = "interleaved"
) -> LabelledTexts:
    """Movie-review snippets labelled ``"positive"`` or ``"negative"`` (Pang & Lee, CC BY 4.0).

    The *sentence polarity dataset v1.0*: 5,331 positive and 5,331 negative
    snippets from Rotten Tomatoes reviews (lower-cased and tokenized, with
    spaces around punctuation, as distributed), read from the copy installed
    with the package. Each snippet is stripped of surrounding white space.

    Parameters
    ----------
    n : int or None
        Keep the first ``n`` texts of the chosen ``order``, in ``[1, 10662]``;
        ``None`` keeps all 10,662. With ``order="grouped"`` the first ``n``
        are all positive while ``n <= 5331``: use ``per_class`` for a balanced
        subset.
    per_class : int or None
        Keep the first ``per_class`` texts of each class (in the files'
        order), in ``[1, 5331]``, so ``2 * per_class`` in all. Not together
        with ``n``.
    order : {"interleaved", "grouped"}
        ``"interleaved"`` (default): positive, negative, positive, ... (the
        i-th snippet of each file side by side), so any prefix is balanced.
        ``"grouped"``: every positive text, then every negative one.

    Returns
    -------
    LabelledTexts
        ``.texts`` and ``.labels`` (lists of str of the same length); unpacks
        as ``texts, labels = ...``.

    Raises
    ------
    TypeError
        If ``n`` or ``per_class`` is not None or an int.
    ValueError
        If ``n`` or ``per_class`` is out of range, both are given, or
        ``order`` is not one of :data:`POLARITY_ORDERS`.

    Examples
    --------
    >>> import bertviz_kit as bk
    >>> texts, labels = bk.datasets.sentence_polarity(per_class=150, order="grouped")
    >>> len(texts), labels[0], labels[-1]
    (300, 'positive', 'negative')
    >>> bk.datasets.sentence_polarity(4).labels
    ['positive', 'negative', 'positive', 'negative']
    """
    if not isinstance(order, str) or order not in POLARITY_ORDERS:
        raise ValueError(f"order must be one of {POLARITY_ORDERS}; got {order!r}.")
    n = _check_count("n", n, 2 * _PER_CLASS)
    per_class = _check_count("per_class", per_class, _PER_CLASS)
    if n is not None and per_class is not None:
        raise ValueError(f"give n or per_class, not both; got n={n!r} and per_class={per_class!r}.")
    pos, neg = (_polarity_lines(label)[:per_class] for label in POLARITY_LABELS)
    if order == "grouped":
        texts = [*pos, *neg]
        labels = ["positive"] * len(pos) + ["negative"] * len(neg)
    else:
        texts = [t for pair in zip(pos, neg) for t in pair]
        labels = ["positive", "negative"] * min(len(pos), len(neg))
    return LabelledTexts(texts[:n], labels[:n])


# ----------------------------------------------------------------------------- UD English EWT


@dataclass(frozen=True, repr=False)
class UDSentence:
    """One sentence of a CoNLL-U treebank: its text and its syntactic words.

    Words are the treebank's *syntactic* words (``"don't"`` is two words,
    ``"do"`` and ``"n't"``), one per CoNLL-U line with an integer id; empty
    nodes (ids such as ``8.1``) are left out. Every per-word field has
    ``n_words`` entries, in order.

    Attributes
    ----------
    sent_id : str
        The ``# sent_id`` of the sentence.
    text : str
        The ``# text`` of the sentence.
    words : tuple of str
        Word forms.
    upos : tuple of str
        Universal POS tag of each word (``"NOUN"``, ``"VERB"``, ...).
    heads : tuple of int
        Head of each word: ``0`` for the root, else the 1-based position of
        the head in ``words`` (the CoNLL-U id), so ``words[heads[i] - 1]``.
    deprels : tuple of str
        Universal dependency relation of each word to its head (``"nsubj"``,
        ``"obl:tmod"``, ..., ``"root"``).
    spans : tuple of (int, int) or None
        Character span ``(start, end)`` of each word in ``text``
        (``text[start:end] == words[i]``), found left to right; ``None`` where
        the form cannot be found there in order (none in the bundled files).
    multiword : tuple of (int, int, str)
        The multiword tokens (CoNLL-U range lines such as ``3-4 don't``): the
        0-based word positions ``[start, stop)`` they cover and their surface
        form, e.g. ``(2, 4, "don't")``.
    """

    sent_id: str
    text: str
    words: tuple[str, ...]
    upos: tuple[str, ...]
    heads: tuple[int, ...]
    deprels: tuple[str, ...]
    spans: tuple[tuple[int, int] | None, ...]
    multiword: tuple[tuple[int, int, str], ...] = ()

    @property
    def n_words(self) -> int:
        """Number of syntactic words."""
        return len(self.words)

    def __repr__(self) -> str:
        text = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        return f"UDSentence(sent_id={self.sent_id!r}, n_words={self.n_words}, text={text!r})"


def _find(text: str, form: str, start: int, stop: int) -> tuple[int, int] | None:
    """Span of ``form`` in ``text[start:stop]`` after nothing but white space, else None."""
    i = text.find(form, start, stop)
    if i < 0 or text[start:i].strip():
        return None
    return i, i + len(form)


def _sentence(tokens: Any) -> UDSentence:
    text = tokens.metadata.get("text", "")
    rows = [t for t in tokens if isinstance(t["id"], int)]
    ranges = {t["id"][0]: t for t in tokens if isinstance(t["id"], tuple) and t["id"][1] == "-"}
    spans: list[tuple[int, int] | None] = [None] * len(rows)
    multiword = []
    cursor, i = 0, 0
    while i < len(rows):
        mwt = ranges.get(rows[i]["id"])
        if mwt is None:
            span = _find(text, rows[i]["form"], cursor, len(text))
            spans[i] = span
            stop = i + 1
        else:
            stop = min(i + mwt["id"][2] - mwt["id"][0] + 1, len(rows))
            multiword.append((i, stop, mwt["form"]))
            span = _find(text, mwt["form"], cursor, len(text))
            if span is not None:
                sub = span[0]
                for j in range(i, stop):
                    part = _find(text, rows[j]["form"], sub, span[1])
                    spans[j] = part
                    sub = part[1] if part is not None else sub
        if span is not None:
            cursor = span[1]
        i = stop
    return UDSentence(
        sent_id=tokens.metadata.get("sent_id", ""),
        text=text,
        words=tuple(t["form"] for t in rows),
        upos=tuple(t["upos"] for t in rows),
        heads=tuple(int(t["head"]) for t in rows),
        deprels=tuple(t["deprel"] for t in rows),
        spans=tuple(spans),
        multiword=tuple(multiword),
    )


@functools.cache
def _ud(split: str) -> tuple[UDSentence, ...]:
    import conllu

    with (_data("ud_english_ewt") / f"en_ewt-ud-{split}.conllu").open("r", encoding="utf-8") as f:
        return tuple(_sentence(tokens) for tokens in conllu.parse_incr(f))


def ud_english_ewt(split: str = "dev") -> list[UDSentence]:
    """Sentences of the Universal Dependencies English Web Treebank v2.15 (CC BY-SA 4.0).

    Web text (blogs, newsgroups, emails, reviews, questions and answers) with
    gold words, universal POS tags and dependency trees, parsed from the
    CoNLL-U files installed with the package by the ``conllu`` package (the
    first call per split takes about half a second; later calls reuse it).

    Parameters
    ----------
    split : {"dev", "test"}
        ``"dev"`` (2,001 sentences, 25,147 words) or ``"test"`` (2,077
        sentences, 25,094 words). The training split is not bundled.

    Returns
    -------
    list of UDSentence
        One record per sentence, in the file's order: ``text``, ``words``,
        ``upos``, ``heads``, ``deprels``, ``spans`` (each word's character
        span in ``text``) and ``multiword`` tokens. The records are frozen;
        the list is a new one on every call.

    Raises
    ------
    ValueError
        If ``split`` is not one of :data:`UD_SPLITS`.

    Examples
    --------
    >>> import bertviz_kit as bk
    >>> s = bk.datasets.ud_english_ewt("dev")[0]
    >>> s.text
    'From the AP comes this story :'
    >>> list(zip(s.words, s.upos, s.heads, s.deprels))[:2]
    [('From', 'ADP', 3, 'case'), ('the', 'DET', 3, 'det')]
    >>> s.spans[:2]
    ((0, 4), (5, 8))
    """
    if not isinstance(split, str) or split not in UD_SPLITS:
        raise ValueError(f"split must be one of {UD_SPLITS}; got {split!r}.")
    return list(_ud(split))
