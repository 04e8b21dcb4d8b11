"""Word-level features for annotated words: gold (Universal Dependencies) words aligned to
the encoder's tokens by character offsets.

A treebank and a tokenizer do not agree on what a word is. UD splits
``"didn't"`` into the syntactic words ``"did"`` and ``"n't"``; BERT's
tokenizer splits it into ``"didn" "'" "t"``. UD keeps ``"e-mail"`` as one
word; the tokenizer makes three words and more pieces of it. Whitespace
matching gets both wrong. :func:`ud_word_features` aligns by **character
offsets** instead:

*A UD word is the mean (or ``subwords``) of every encoder token whose
character span overlaps the word's span* (``token_start < word_end`` and
``token_end > word_start``; special tokens and tokens covering no character
are never used).

So the pieces of a word split by the tokenizer are pooled into it, and a token
that straddles two UD words (``"didn"`` of ``"did"`` + ``"n't"``, or
``"cannot"`` = ``"can"`` + ``"not"``) goes to **both** (the report counts
such *shared* words). A UD word that no token overlaps (no character span, or
only characters the tokenizer drops) is left out of the features and listed
in :attr:`WordFeatures.alignment`.

The work is one vectorised pass per corpus block: the tokens and words of a
whole block are put on one character axis, and each word finds its first and
last overlapping token with ``searchsorted``; the (token, word) pairs are
pooled with :func:`bertviz_kit.vectors.pooling.pool_tokens`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .._validation import TEXT, Boolean, Instance, Interval, InvalidParameterError, Options, validate_params
from ..datasets import UDSentence
from ..encoder import Encoder
from ..encoding import Corpus, Encoding, Encodings, as_corpus
from ..layers import Layers, stored_layer_ids
from ..vectors.pooling import SUBWORD_MODES, pool_tokens

__all__ = ["AlignmentReport", "WordFeatures", "ud_word_features"]

_EXAMPLES = 5


@dataclass(frozen=True, repr=False)
class AlignmentReport:
    """What the character-offset alignment of gold words to tokens did.

    Attributes
    ----------
    n_words : int
        Gold words given (all sentences).
    n_aligned : int
        Words that at least one token overlaps: the rows of the features.
    unaligned : tuple of (int, int, str)
        ``(sentence, position, form)`` of every word left out: no span in the
        text, or no token overlapping its span.
    shared : tuple of (int, int, str)
        ``(sentence, position, form)`` of every aligned word that shares a
        token with a neighbouring gold word (e.g. ``"did"`` and ``"n't"``,
        both fed by the token ``"didn"``).
    """

    n_words: int
    n_aligned: int
    unaligned: tuple[tuple[int, int, str], ...]
    shared: tuple[tuple[int, int, str], ...]

    @property
    def n_unaligned(self) -> int:
        """Number of treebank words left out: ``len(unaligned)``."""
        return len(self.unaligned)

    @property
    def n_shared(self) -> int:
        """Number of aligned words that share a token with a neighbouring word: ``len(shared)``."""
        return len(self.shared)

    def __repr__(self) -> str:
        def show(items: tuple[tuple[int, int, str], ...]) -> str:
            text = ", ".join(f"{f!r}@{s}:{p}" for s, p, f in items[:_EXAMPLES])
            return f"[{text}{', ...' if len(items) > _EXAMPLES else ''}]"

        return (f"AlignmentReport(n_words={self.n_words}, n_aligned={self.n_aligned}, "
                f"n_unaligned={self.n_unaligned} {show(self.unaligned)}, "
                f"n_shared={self.n_shared} {show(self.shared)})")


@dataclass(frozen=True, repr=False)
class WordFeatures:
    """Per-layer vectors of gold words with their annotations, row for row.

    Attributes
    ----------
    features : torch.Tensor, float32, shape ``[n_layers, n_words, dim]``
        Row ``k`` is model layer ``layer_ids[k]`` (0 = embeddings); column
        ``j`` is the ``j``-th aligned gold word.
    layer_ids : tuple of int
        The model layer of each row of :attr:`features`.
    words : tuple of str, length ``n_words``
        Gold word forms.
    upos : tuple of str, length ``n_words``
        Universal POS tags.
    deprel : tuple of str, length ``n_words``
        Dependency relations to the head, with subtypes (``"nmod:poss"``);
        :attr:`deprel_universal` drops the subtypes.
    sentence : torch.Tensor, int64, shape ``[n_words]``
        Index (into the sentences given) of each word's sentence: the groups
        for splitting by sentence.
    position : torch.Tensor, int64, shape ``[n_words]``
        Position of each word in its sentence (0-based, as in ``UDSentence.words``).
    n_pieces : torch.Tensor, int64, shape ``[n_words]``
        Tokens pooled into each word.
    alignment : AlignmentReport
        Words left out, words sharing a token (for the whole input, also
        after :meth:`subset`).
    """

    features: torch.Tensor
    layer_ids: tuple[int, ...]
    words: tuple[str, ...]
    upos: tuple[str, ...]
    deprel: tuple[str, ...]
    sentence: torch.Tensor
    position: torch.Tensor
    n_pieces: torch.Tensor
    alignment: AlignmentReport

    def __len__(self) -> int:
        return len(self.words)

    @property
    def word_types(self) -> tuple[str, ...]:
        """Lower-cased word forms: the word types of a control task."""
        return tuple(w.lower() for w in self.words)

    @property
    def deprel_universal(self) -> tuple[str, ...]:
        """Dependency relations without their language-specific subtype (``"nmod:poss"`` -> ``"nmod"``)."""
        return tuple(d.split(":", 1)[0] for d in self.deprel)

    @property
    def n_sentences(self) -> int:
        """Sentences with at least one word here."""
        return int(torch.unique(self.sentence).numel())

    @validate_params({"index": Instance(list, tuple, range, np.ndarray, torch.Tensor,
                                        label="a list, array or tensor of row indices")})
    def subset(self, index: Sequence[int] | np.ndarray | torch.Tensor) -> WordFeatures:
        """The words at ``index`` (int positions or a bool mask of length ``n_words``), in that order."""
        idx = torch.as_tensor(np.asarray(index))
        if idx.dtype == torch.bool:
            if idx.shape != (len(self),):
                raise InvalidParameterError(
                    f"index must be int positions or a bool mask of length {len(self)}; got a mask of "
                    f"shape {tuple(idx.shape)}.")
            idx = torch.nonzero(idx).squeeze(1)
        if idx.ndim != 1 or (idx.numel() and (idx.dtype.is_floating_point or idx.is_complex())):
            raise InvalidParameterError(f"index must be a 1-D sequence of int positions or a bool mask; "
                                        f"got shape {tuple(idx.shape)}, dtype {idx.dtype}.")
        idx = idx.long()
        n = len(self)
        if idx.numel() and (int(idx.min()) < -n or int(idx.max()) >= n):
            raise InvalidParameterError(f"index must hold positions in [{-n}, {n - 1}].")
        idx = idx % max(n, 1)
        pick = idx.tolist()
        return WordFeatures(
            features=self.features[:, idx], layer_ids=self.layer_ids,
            words=tuple(self.words[i] for i in pick), upos=tuple(self.upos[i] for i in pick),
            deprel=tuple(self.deprel[i] for i in pick), sentence=self.sentence[idx],
            position=self.position[idx], n_pieces=self.n_pieces[idx], alignment=self.alignment,
        )

    def __repr__(self) -> str:
        return (f"WordFeatures(features={list(self.features.shape)}, layer_ids={list(self.layer_ids)}, "
                f"n_words={len(self)}, n_sentences={self.n_sentences}, n_unaligned="
                f"{self.alignment.n_unaligned}, n_shared={self.alignment.n_shared})")


def _check_sentences(sentences: object) -> list[UDSentence]:
    if isinstance(sentences, (str, bytes, UDSentence)) or not isinstance(sentences, Sequence):
        raise InvalidParameterError(
            f"sentences must be a list of UDSentence (bk.datasets.ud_english_ewt(...)); got "
            f"{type(sentences).__name__}.")
    if not sentences:
        raise InvalidParameterError("sentences must hold at least one UDSentence; got an empty list.")
    out = list(sentences)
    for i, s in enumerate(out):
        if not isinstance(s, UDSentence):
            raise InvalidParameterError(
                f"sentences[{i}] must be a UDSentence (bk.datasets.ud_english_ewt(...)); got {type(s).__name__}.")
        if not (len(s.words) == len(s.upos) == len(s.deprels) == len(s.spans)):
            raise InvalidParameterError(
                f"sentences[{i}] must have one form, UPOS tag, relation and span per word; got "
                f"{len(s.words)} words, {len(s.upos)} tags, {len(s.deprels)} relations, {len(s.spans)} spans.")
    return out


def _stored_rows(corpus: Corpus, layers: object) -> list[int]:
    """Rows of the corpus's stored layers for a layer spec (``None``: every stored layer)."""
    if layers is None:
        return list(range(len(corpus.layer_ids)))
    wanted = stored_layer_ids(layers, corpus.n_layers)
    where = {lid: r for r, lid in enumerate(corpus.layer_ids)}
    missing = [v for v in wanted if v not in where]
    if missing:
        raise InvalidParameterError(
            f"layers={layers!r} needs model layers {missing}, which this corpus did not store; it has "
            f"layers {tuple(corpus.layer_ids)}.")
    return [where[v] for v in wanted]


def _overlaps(
    tok_start: torch.Tensor, tok_end: torch.Tensor, w_start: torch.Tensor, w_end: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(token, word)`` index pairs whose half-open spans overlap, on one character axis.

    Tokens and words are each in text order. When token starts and ends never go
    backwards (every tokenizer we know), each word's tokens are one contiguous run
    found with two ``searchsorted`` calls; otherwise a dense comparison per text-sized
    chunk of words is used.
    """
    n_tok = tok_start.numel()
    if n_tok == 0 or w_start.numel() == 0:
        empty = torch.zeros(0, dtype=torch.long)
        return empty, empty
    monotone = bool((tok_start[1:] >= tok_start[:-1]).all() and (tok_end[1:] >= tok_end[:-1]).all())
    if monotone:
        lo = torch.searchsorted(tok_end, w_start, right=True)  # first token ending after the word starts
        hi = torch.searchsorted(tok_start, w_end, right=False)  # first token starting at/after its end
        count = (hi - lo).clamp_min(0)
        word = torch.repeat_interleave(torch.arange(w_start.numel()), count)
        first = torch.repeat_interleave(lo, count)
        local = torch.arange(word.numel()) - torch.repeat_interleave(count.cumsum(0) - count, count)
        return first + local, word
    toks, words = [], []  # pragma: no cover - no known tokenizer has offsets that go backwards
    for a in range(0, w_start.numel(), 256):  # pragma: no cover
        hit = (tok_start.unsqueeze(0) < w_end[a:a + 256].unsqueeze(1)) & (
            tok_end.unsqueeze(0) > w_start[a:a + 256].unsqueeze(1))
        w, t = torch.nonzero(hit, as_tuple=True)
        toks.append(t)
        words.append(w + a)
    t, w = torch.cat(toks), torch.cat(words)  # pragma: no cover
    order = torch.argsort(w * n_tok + t)  # pragma: no cover
    return t[order], w[order]  # pragma: no cover


#: what the probes take (bk.probe_layers, bk.scalar_mix_probe); the body checks shapes and items
PROBE_DATA = Instance(Corpus, Encoding, list, tuple, torch.Tensor, np.ndarray, WordFeatures,
                      label="an Encodings, a Store, a list of Encoding, a tensor/array [n_layers, n, dim] "
                      "or WordFeatures")


@validate_params({
    "sentences": Instance(list, tuple, label="a list of UDSentence (bk.datasets.load_ud)"),
    "layers": Layers("data", allow_none=True),
    "dtype": TEXT,
    "data": Instance(Encoder, Corpus, list, tuple, label="an Encoder (bk.load()), an Encodings, a Store or a "
                     "list of Encoding"),
    "subwords": Options(SUBWORD_MODES),
    "batch_size": Interval(int, 1),
    "progress": Boolean(),
})
def ud_word_features(
    data: Encoder | Corpus | Sequence[Encoding],
    sentences: Sequence[UDSentence],
    *,
    layers: int | Sequence[int] | str | None = None,
    subwords: str = "mean",
    batch_size: int = 32,
    dtype: str = "float32",
    progress: bool = False,
) -> WordFeatures:
    """One vector per gold word at every layer, aligned to the tokens by character offsets.

    Parameters
    ----------
    data : Encoder, Encodings, Store or list of Encoding
        An encoder (the sentences' texts are encoded here, once, keeping
        ``layers``), or the encodings of exactly ``[s.text for s in
        sentences]`` in that order.
    sentences : list of UDSentence
        From :func:`bertviz_kit.datasets.ud_english_ewt`; each gives the
        text, the words, their character spans, UPOS tags and relations.
    layers : int, list of int, preset name or None
        Model layers to keep (0 = embeddings, negatives from the top); every
        stored layer when ``None``. Each becomes one row of the features
        (a preset's layers are kept apart, not combined).
    subwords : {"mean", "first", "last", "sum", "max"}, default "mean"
        How the tokens overlapping a word are pooled into it.
    batch_size, dtype, progress
        Passed to :meth:`Encoder.encode` when ``data`` is an encoder.

    Returns
    -------
    WordFeatures
        ``.features`` float32 ``[n_layers, n_aligned_words, dim]`` with the
        words' ``.upos``, ``.deprel``, ``.sentence``, ``.position``,
        ``.word_types`` and the ``.alignment`` report (unaligned and shared
        words).

    Raises
    ------
    InvalidParameterError
        Bad arguments; encodings whose texts are not the sentences' texts,
        in order; layers the corpus did not store.

    Notes
    -----
    The alignment rule: every non-special token whose character span
    ``[s, e)`` overlaps the word's span ``[a, b)`` (``s < b`` and ``e > a``)
    is pooled into the word. Pieces of one word are pooled together; a token
    spanning two gold words feeds both (they are counted in
    ``alignment.shared``); a word with no overlapping token is left out
    (``alignment.unaligned``). Runs as one vectorised pass per corpus block
    (a store streams shard by shard).

    Examples
    --------
    >>> import bertviz_kit as bk
    >>> ud = bk.datasets.ud_english_ewt("dev")[:50]
    >>> feats = bk.ud_word_features(bk.load(), ud)          # doctest: +SKIP
    >>> feats.features.shape, feats.upos[:3]                 # doctest: +SKIP
    (torch.Size([7, 1166, 384]), ('ADP', 'DET', 'PROPN'))
    """
    sents = _check_sentences(sentences)
    texts = [s.text for s in sents]
    if isinstance(data, Encoder):
        corpus: Corpus = data.encode(texts, batch_size=batch_size, layers=layers, dtype=dtype, progress=progress)
        rows = list(range(len(corpus.layer_ids)))
    else:
        corpus = as_corpus(data, "data")
        if len(corpus) != len(sents):
            raise InvalidParameterError(
                f"data must hold the encodings of the {len(sents)} sentences' texts, in order; it holds "
                f"{len(corpus)} texts.")
        rows = _stored_rows(corpus, layers)
    layer_ids = tuple(corpus.layer_ids[r] for r in rows)

    # flat gold words of every sentence (metadata only)
    counts = np.array([s.n_words for s in sents], dtype=np.int64)
    w_first = np.concatenate([[0], counts.cumsum()])
    n_total = int(w_first[-1])
    spans = np.array([sp if sp is not None else (-1, -1) for s in sents for sp in s.spans],
                     dtype=np.int64).reshape(-1, 2)
    w_sent = np.repeat(np.arange(len(sents)), counts)
    w_pos = np.arange(n_total) - w_first[w_sent]

    dim = corpus.dim
    out = torch.zeros((len(rows), n_total, dim), dtype=torch.float32)
    n_pieces = torch.zeros(n_total, dtype=torch.long)
    shared = torch.zeros(n_total, dtype=torch.bool)
    for first, b in corpus.blocks():
        _align_block(b, first, texts, spans, w_first, w_sent, rows, subwords, out, n_pieces, shared)

    aligned = n_pieces > 0
    idx = torch.nonzero(aligned).squeeze(1)
    forms = [w for s in sents for w in s.words]
    missing = torch.nonzero(~aligned).squeeze(1).tolist()
    both = torch.nonzero(shared & aligned).squeeze(1).tolist()
    report = AlignmentReport(
        n_words=n_total, n_aligned=int(idx.numel()),
        unaligned=tuple((int(w_sent[i]), int(w_pos[i]), forms[i]) for i in missing),
        shared=tuple((int(w_sent[i]), int(w_pos[i]), forms[i]) for i in both),
    )
    pick = idx.tolist()
    upos = [u for s in sents for u in s.upos]
    deprel = [d for s in sents for d in s.deprels]
    return WordFeatures(
        features=out if len(missing) == 0 else out[:, idx].contiguous(),
        layer_ids=layer_ids,
        words=tuple(forms[i] for i in pick),
        upos=tuple(upos[i] for i in pick),
        deprel=tuple(deprel[i] for i in pick),
        sentence=torch.from_numpy(w_sent[idx.numpy()]).long(),
        position=torch.from_numpy(w_pos[idx.numpy()]).long(),
        n_pieces=n_pieces[idx],
        alignment=report,
    )


def _align_block(
    b: Encodings, first: int, texts: list[str], spans: np.ndarray, w_first: np.ndarray, w_sent: np.ndarray,
    rows: list[int], subwords: str, out: torch.Tensor, n_pieces: torch.Tensor, shared: torch.Tensor,
) -> None:
    """Pool the tokens of block ``b`` (texts ``first``...) into its sentences' gold words: their rows of
    ``out`` ``[layers, words, dim]``, ``n_pieces`` (tokens per word) and ``shared`` (a token feeds two words)."""
    dim = out.shape[2]
    n_b = len(b)
    for j, t in enumerate(b.texts):
        if t != texts[first + j]:
            raise InvalidParameterError(
                f"data must encode the sentences' texts in order; text {first + j} is "
                f"{t[:40]!r}, sentences[{first + j}].text is {texts[first + j][:40]!r}.")
    # one character axis for the block: text j starts at base[j] (texts one character apart)
    lengths = torch.tensor([len(t) + 1 for t in b.texts], dtype=torch.long)
    base = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)[:-1]])
    off = b.offsets.long().cpu()
    t_text = b.text_index
    keep = torch.nonzero((b.word_index.cpu() >= 0) & (off[:, 1] > off[:, 0])).squeeze(1)
    tok_start = base[t_text[keep]] + off[keep, 0]
    tok_end = base[t_text[keep]] + off[keep, 1]
    wa, wb = int(w_first[first]), int(w_first[first + n_b])
    sp = torch.from_numpy(spans[wa:wb])
    ws = torch.from_numpy(w_sent[wa:wb]) - first
    has_span = sp[:, 1] > sp[:, 0]
    w_start = torch.where(has_span, base[ws] + sp[:, 0], -1)
    w_end = torch.where(has_span, base[ws] + sp[:, 1], -1)
    tok, word = _overlaps(tok_start, tok_end, w_start, w_end)
    n_pieces[wa:wb] = torch.bincount(word, minlength=wb - wa)
    if tok.numel():
        uses = torch.bincount(tok, minlength=keep.numel())
        shared_pair = uses[tok] > 1
        shared[wa:wb] |= torch.bincount(word[shared_pair], minlength=wb - wa) > 0
        token_rows = keep[tok].to(b.hidden.device)
        picked = b.hidden.index_select(0, token_rows)  # [pairs, stored layers, dim]
        pooled = pool_tokens(picked, rows, "concat", word.to(b.hidden.device), wb - wa, subwords)
        out[:, wa:wb] = pooled.reshape(wb - wa, len(rows), dim).permute(1, 0, 2).cpu()
