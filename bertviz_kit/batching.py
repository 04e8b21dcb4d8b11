"""The plan of one encode call: which tokens each forward row holds, and where each output token goes.

Texts longer than the model's limit are cut into overlapping windows of content tokens (the
special tokens repeated in each); each token takes its vectors from the window in which it has
the most context on both sides. Rows (whole texts and windows) are sorted by length into
batches, so little time goes to padding; :class:`Plan` says, for each batch, which input
positions are real, which outputs are kept and where they go in the flat token store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ._validation import InvalidParameterError

__all__ = ["Plan", "Batch"]


def _plan_windows(n_content: int, width: int, stride: int) -> list[tuple[int, int]]:
    """Content-token ranges of the windows that cover ``n_content`` tokens.

    The fewest full windows whose neighbours share at least the overlap. The last one ends
    with the text and can share almost all of its tokens with the one before (893 tokens in
    windows of 510: 0-510, 382-892, 383-893). That pass is not redundant: every window is the
    best window of some tokens (here 446-637 from the second, 638-892 from the third), and
    dropping or shortening one would change those tokens' vectors (less context, or a
    different window). A plan with fewer forward tokens (shorter windows, or an overlap below
    ``stride`` at the end) is a different setting, not the same result computed faster.
    """
    if n_content <= width:
        return [(0, n_content)]
    overlap = min(stride, width // 2)
    step = width - overlap
    starts = list(range(0, n_content - width, step))
    starts.append(n_content - width)  # the last window ends with the text
    return [(s, s + width) for s in starts]


def _window_spans(
    p: int, n: int, ranges: Sequence[tuple[int, int]]
) -> tuple[tuple[int, int], ...]:
    """Token ranges (indices into the whole text's tokens) each window covered."""
    if len(ranges) == 1:
        return ((0, n),)
    return tuple((p + a, p + b) for a, b in ranges)


def _best_window(
    n_content: int, ranges: Sequence[tuple[int, int]]
) -> torch.Tensor:
    """For each content token, the window in which it has the most context."""
    pos = torch.arange(n_content)
    starts = torch.tensor([a for a, _ in ranges]).unsqueeze(1)
    ends = torch.tensor([b for _, b in ranges]).unsqueeze(1)
    context = torch.minimum(pos - starts, ends - 1 - pos).float()
    context[(pos < starts) | (pos >= ends)] = float("-inf")
    return context.argmax(dim=0)


@dataclass
class Batch:
    src: torch.Tensor  # [B, W] flat token index feeding each input position, -1 = padding
    keep: torch.Tensor  # [n] positions in the flattened [B * W] output that are stored
    dest: torch.Tensor  # [n] flat token index each kept output goes to
    texts: list[int]  # text of each row (for attentions)
    lengths: torch.Tensor  # [B] real tokens per row
    # (offset into keep, length, source start in [B * W], destination start): stretches where both
    # the kept outputs and their destinations are consecutive (a whole text is one), copied as slices
    runs: list[tuple[int, int, int, int]]


def _runs(keep: torch.Tensor, dest: torch.Tensor) -> list[tuple[int, int, int, int]]:
    n = keep.shape[0]
    if n == 0:
        return []
    brk = torch.ones(n, dtype=torch.bool)
    brk[1:] = (keep[1:] != keep[:-1] + 1) | (dest[1:] != dest[:-1] + 1)
    first = torch.nonzero(brk).squeeze(1)
    length = torch.diff(first, append=torch.tensor([n]))
    return list(zip(first.tolist(), length.tolist(), keep[first].tolist(), dest[first].tolist()))


class Plan:
    """Forward windows of every text, sorted by length, and where each output token goes.

    ``limit`` is the model's window (``Encoder.max_length``), ``stride`` the overlap of
    consecutive windows (``Settings.stride``)."""

    def __init__(
        self,
        limit: int,
        stride: int,
        ids: torch.Tensor,
        special: torch.Tensor,
        starts: torch.Tensor,
        lengths: torch.Tensor,
        text_index: torch.Tensor,
        attentions: bool,
    ) -> None:
        self.ids = ids
        self.starts = starts
        self.n_tokens = int(ids.shape[0])
        self.n_texts = int(lengths.shape[0])
        self.windows: dict[int, tuple[tuple[int, int], ...]] = {}
        long = torch.nonzero(lengths > limit).squeeze(1).tolist()
        # one row per forward window: (length, text, src index tensor or None for a whole text)
        self.rows_len = lengths.clone()
        self.rows_text = torch.arange(self.n_texts)
        self.extra: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}  # row -> src, keep, dest
        if not long:
            return
        if attentions:
            i = long[0]
            raise InvalidParameterError(
                f"attentions=True needs each text to fit in one window of max_length={limit} tokens; "
                f"texts[{i}] has {int(lengths[i])} tokens. Encode it without attentions, or split the text."
            )
        row_len, row_text = [], []
        whole = torch.ones(self.n_texts, dtype=torch.bool)
        whole[long] = False
        for i in long:
            a0, n = int(starts[i]), int(lengths[i])
            sp = special[a0 : a0 + n]
            content = torch.nonzero(~sp).squeeze(1)
            p, q = int(content[0]), int(content[-1]) + 1
            width = limit - p - (n - q)
            if width < 1:
                raise InvalidParameterError(
                    f"max_length={limit} leaves no room for text between the {p + n - q} special "
                    f"tokens; use a larger max_length."
                )
            ranges = _plan_windows(q - p, width, stride)
            self.windows[i] = _window_spans(p, n, ranges)
            best = _best_window(q - p, ranges)
            for w, (a, b) in enumerate(ranges):
                local = torch.cat([torch.arange(p), torch.arange(p + a, p + b), torch.arange(q, n)])
                out = torch.zeros(local.shape[0], dtype=torch.bool)
                if w == 0:
                    out[:p] = True
                if w == len(ranges) - 1:
                    out[p + (b - a) :] = True
                out[p : p + (b - a)] = best[a:b] == w
                self.extra[len(row_len)] = (local + a0, torch.nonzero(out).squeeze(1), local[out] + a0)
                row_len.append(local.shape[0])
                row_text.append(i)
        base = int(whole.sum())
        self.extra = {base + k: v for k, v in self.extra.items()}
        self.rows_len = torch.cat([lengths[whole], torch.tensor(row_len, dtype=torch.long)])
        self.rows_text = torch.cat([torch.arange(self.n_texts)[whole], torch.tensor(row_text, dtype=torch.long)])

    def batches(self, batch_size: int) -> list[Batch]:
        order = torch.argsort(self.rows_len, descending=True, stable=True)
        out = []
        for s in range(0, order.shape[0], batch_size):
            rows = order[s : s + batch_size]
            lens = self.rows_len[rows]
            width = int(lens.max())
            pos = torch.arange(width)
            texts = self.rows_text[rows]
            extra = [int(r) in self.extra for r in rows] if self.extra else []
            if not any(extra):
                first = self.starts[texts]
                valid = pos < lens.unsqueeze(1)
                src = torch.where(valid, first.unsqueeze(1) + pos, torch.full((1,), -1))
                keep = torch.nonzero(valid.flatten()).squeeze(1)
                dest = src.flatten()[keep]
            else:
                src = torch.full((rows.shape[0], width), -1, dtype=torch.long)
                keeps, dests = [], []
                for r, row in enumerate(rows.tolist()):
                    if row in self.extra:
                        s_idx, k_idx, d_idx = self.extra[row]
                    else:
                        t = int(self.rows_text[row])
                        a0 = int(self.starts[t])
                        s_idx = torch.arange(a0, a0 + int(self.rows_len[row]))
                        k_idx, d_idx = torch.arange(s_idx.shape[0]), s_idx
                    src[r, : s_idx.shape[0]] = s_idx
                    keeps.append(k_idx + r * width)
                    dests.append(d_idx)
                keep, dest = torch.cat(keeps), torch.cat(dests)
            out.append(Batch(src=src, keep=keep, dest=dest, texts=texts.tolist(), lengths=lens,
                              runs=_runs(keep, dest)))
        return out
