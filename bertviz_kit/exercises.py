"""Answer checks for the exercises notebook (``notebooks/14_exercises``).

Each check recomputes the answer from the student's own data (their word, sentences and
meanings), compares it with what the student computed, prints one line (correct, or a
hint) and returns ``True`` or ``False``. So the checks work for any word a student picks,
and a student can call them as often as they like::

    import bertviz_kit as bk
    bk.exercises.check_meaning_gap((same, different), es, "bat", MEANING, layer=3)
    # exercise 1: correct (same meaning 0.939, different meanings 0.880, layer 3)

An answer of ``None`` (the student version's placeholder) prints "no answer yet".
Numbers are compared with a tolerance (``atol``, default 0.005), so answers computed in
another way (another pooling order, another CPU) still count.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ._validation import Instance, InvalidParameterError, Options, validate_params
from .encoding import Encoding, Encodings
from .vectors.similarity import find, layer_occurrence_vectors

__all__ = [
    "meaning_gap",
    "check_meaning_gap",
    "attention_targets",
    "check_attention_targets",
    "outlier_dimensions",
    "check_outlier_dimensions",
    "widest_gap",
    "check_widest_gap",
]

_CORPUS = Instance(Encodings, list, tuple, label="Encodings or a list of Encoding")
_ENCODING = Instance(Encoding, label="an Encoding")
_NUMBER = (int, float)


def _no_answer(exercise: str, variable: str) -> bool:
    print(f"{exercise}: no answer yet: set {variable} in the cell above, then run this cell again")
    return False


def _verdict(exercise: str, ok: bool, shown: str, hint: str) -> bool:
    print(f"{exercise}: correct ({shown})" if ok else f"{exercise}: not yet. Hint: {hint}")
    return ok


def _meanings(corpus: Encodings | Sequence[Encoding], meaning: Sequence[object]) -> list[object]:
    meaning = list(meaning)
    if len(meaning) != len(corpus):
        raise InvalidParameterError(
            f"meaning must give one label per sentence ({len(corpus)}); got {len(meaning)} labels."
        )
    if len(set(meaning)) < 2:
        raise InvalidParameterError("meaning must hold at least two different meanings; got one.")
    return meaning


def _pair_masks(meaning: list[object]) -> tuple[torch.Tensor, torch.Tensor]:
    same = torch.tensor([[a == b for b in meaning] for a in meaning])
    off_diagonal = ~torch.eye(len(meaning), dtype=torch.bool)
    return same & off_diagonal, ~same


def _layer_cosines(corpus: Encodings | Sequence[Encoding], word: str) -> torch.Tensor:
    """``[stored layers, n, n]``: the cosine of the word's occurrences at every layer."""
    stack = layer_occurrence_vectors(corpus, word)
    if stack.shape[1] != len(corpus):
        raise InvalidParameterError(
            f"word must occur exactly once in every sentence; {word!r} occurs {stack.shape[1]} times "
            f"in {len(corpus)} sentences."
        )
    unit = torch.nn.functional.normalize(stack.float(), dim=-1)
    return unit @ unit.transpose(1, 2)


@validate_params({"corpus": _CORPUS, "word": Instance(str), "layer": Instance(int)})
def meaning_gap(
    corpus: Encodings | Sequence[Encoding], word: str, meaning: Sequence[object], layer: int
) -> tuple[float, float]:
    """Exercise 1: mean cosine of same-meaning pairs and of different-meaning pairs at ``layer``.

    Parameters
    ----------
    corpus : Encodings or list of Encoding
        The sentences, each holding ``word`` once.
    word : str
    meaning : sequence
        One label per sentence.
    layer : int
        A stored layer (0 = embeddings, negatives count from the top).

    Returns
    -------
    (float, float)
        ``(same meaning, different meanings)``.
    """
    same, different = _pair_masks(_meanings(corpus, meaning))
    sims = _layer_cosines(corpus, word)
    n = sims.shape[0]
    if not -n <= layer < n:
        raise InvalidParameterError(f"layer must be an int in [{-n}, {n - 1}]; got {layer}.")
    return float(sims[layer][same].mean()), float(sims[layer][different].mean())


def check_meaning_gap(
    answer: tuple[float, float], corpus: Encodings | Sequence[Encoding], word: str,
    meaning: Sequence[object], layer: int, *, atol: float = 0.005,
) -> bool:
    """Check exercise 1's answer ``(same-meaning mean, different-meaning mean)``; see :func:`meaning_gap`."""
    if answer is None:
        return _no_answer("exercise 1", "answer1")
    expected = meaning_gap(corpus, word, meaning, layer)
    given = _numbers(answer, 2, "answer")
    ok = all(abs(g - e) <= atol for g, e in zip(given, expected))
    hint = ("average the cosines of pairs of *different* sentences only (leave out the diagonal, "
            "where a vector meets itself), once over same-meaning pairs and once over the others")
    return _verdict("exercise 1", ok, f"same meaning {expected[0]:.3f}, different meanings {expected[1]:.3f}, "
                    f"layer {layer}", hint)


@validate_params({"e": _ENCODING, "word": Instance(str), "neighbours": Options(("exclude", "include"))})
def attention_targets(e: Encoding, word: str, neighbours: str = "exclude") -> list[str]:
    """Exercise 2: per layer, the token ``word`` attends to most (heads averaged).

    Special tokens and the word's own tokens are left out, and with
    ``neighbours="exclude"`` also the tokens right before and after the word: a
    previous-token or next-token head attends there whatever the words mean.

    Returns
    -------
    list of str
        One token per layer (``e.attentions.shape[0]`` of them).
    """
    if e.attentions is None:
        raise InvalidParameterError("e has no attentions; encode with attentions=True.")
    where = find(e, word)
    if len(where) != 1:
        raise InvalidParameterError(f"word must occur once in the sentence; {word!r} occurs {len(where)} times.")
    own = [t for t, w in enumerate(e.word_ids) if w == where[0]]
    rows = e.attentions.float().mean(dim=1)[:, own[0]].clone()       # [layers, tokens]
    rows[:, e.special_mask] = -1
    rows[:, own] = -1
    if neighbours == "exclude":
        rows[:, [t for t in (own[0] - 1, own[-1] + 1) if 0 <= t < rows.shape[1]]] = -1
    return [e.tokens[t] for t in rows.argmax(dim=-1).tolist()]


def check_attention_targets(answer: Sequence[str], e: Encoding, word: str, *, neighbours: str = "exclude") -> bool:
    """Check exercise 2's answer: the token attended to most at every layer; see :func:`attention_targets`."""
    if answer is None:
        return _no_answer("exercise 2", "answer2")
    expected = attention_targets(e, word, neighbours)
    given = [str(t) for t in answer] if isinstance(answer, (list, tuple)) else None
    if given is None:
        raise InvalidParameterError(f"answer must be a list of tokens, one per layer; got {type(answer).__name__}.")
    ok = given == expected
    hint = (f"one token per layer ({len(expected)}); average the heads, then set the special tokens, the "
            "word's own tokens and its two neighbours to a value below every weight before taking the largest")
    return _verdict("exercise 2", ok, ", ".join(f"layer {k}: {t!r}" for k, t in enumerate(expected, 1)), hint)


@validate_params({"corpus": _CORPUS, "layer": Instance(int)})
def outlier_dimensions(corpus: Encodings | Sequence[Encoding], layer: int) -> tuple[int, int, int]:
    """Exercise 3: the dimension holding the largest ``|value|`` for the most tokens at ``layer``.

    Counts, over every non-special token of every sentence, which dimension has the
    largest absolute value; a dimension that wins for most tokens of every word is
    a property of the model (an "outlier dimension"), not of one word.

    Returns
    -------
    (int, int, int)
        ``(dimension, tokens where it is the largest, tokens counted)``.
    """
    states = [e.hidden_states[layer][~e.special_mask] for e in corpus]
    values = torch.cat(states).float()
    counts = torch.bincount(values.abs().argmax(dim=-1), minlength=values.shape[-1])
    return int(counts.argmax()), int(counts.max()), int(values.shape[0])


def check_outlier_dimensions(
    answer: int, corpus: Encodings | Sequence[Encoding], layer: int
) -> bool:
    """Check exercise 3's answer: the dimension most often largest at ``layer``; see :func:`outlier_dimensions`."""
    if answer is None:
        return _no_answer("exercise 3", "answer3")
    dim, wins, total = outlier_dimensions(corpus, layer)
    if isinstance(answer, bool) or not isinstance(answer, (int, torch.Tensor)):
        raise InvalidParameterError(f"answer must be a dimension index (an int); got {type(answer).__name__}.")
    ok = int(answer) == dim
    hint = ("take |values| of every token that is not [CLS]/[SEP] in every sentence, find each token's "
            "largest dimension (argmax), and count which dimension wins most often (torch.bincount)")
    return _verdict("exercise 3", ok, f"dimension {dim}, the largest for {wins} of {total} tokens at layer {layer}",
                    hint)


@validate_params({"corpus": _CORPUS, "word": Instance(str)})
def widest_gap(corpus: Encodings | Sequence[Encoding], word: str, meaning: Sequence[object]) -> int:
    """Exercise 4: the stored layer where same-meaning minus different-meaning mean cosine is largest."""
    same, different = _pair_masks(_meanings(corpus, meaning))
    sims = _layer_cosines(corpus, word)
    gap = sims[:, same].mean(dim=1) - sims[:, different].mean(dim=1)
    return int(gap.argmax())


def check_widest_gap(answer: int, corpus: Encodings | Sequence[Encoding], word: str, meaning: Sequence[object]) -> bool:
    """Check exercise 4's answer: the layer with the widest gap; see :func:`widest_gap`."""
    if answer is None:
        return _no_answer("exercise 4", "answer4")
    expected = widest_gap(corpus, word, meaning)
    if isinstance(answer, bool) or not isinstance(answer, (int, torch.Tensor)):
        raise InvalidParameterError(f"answer must be a layer number (an int); got {type(answer).__name__}.")
    ok = int(answer) == expected
    hint = "layers are numbered from 0 (the embeddings); take the argmax of the gap curve, not its value"
    return _verdict("exercise 4", ok, f"layer {expected}", hint)


def _numbers(answer: object, n: int, name: str) -> list[float]:
    if (not isinstance(answer, (tuple, list)) or len(answer) != n
            or not all(isinstance(a, _NUMBER + (torch.Tensor,)) and not isinstance(a, bool) for a in answer)):
        raise InvalidParameterError(f"{name} must be a pair of numbers; got {answer!r}.")
    return [float(a) for a in answer]
