"""Where the time of ``enc.encode(texts)`` + ``bk.sentence_vectors`` goes, and how cheap the CPU side is.

Two measurements on the polarity sentences:

1. **Profile** (cProfile) of the real pipeline on the bundled model: time in the model's
   forward pass, in the fast tokenizer, in *per-text work* (Python functions called at
   least once per text outside the model: the cost that grows with the number of texts
   rather than with tensor sizes) and in the rest (batched tensor code: gathers, the
   scatter into the flat tensor, pooling). Target: per-text work under 10% of the time.
2. **The pipeline without the model**: the same ``encode`` + ``sentence_vectors`` with a
   stand-in model that returns hidden states without computing them (BERT-base shape by
   default: 12 layers, 768 dims, every layer kept in float32). Its tokens/s is the most
   the CPU side of the pipeline can feed a GPU; the script prints what share of the time
   it would take next to a forward pass running at ``--gpu-rate`` tokens/s.

    python benchmarks/encode_profile.py [--n 10000] [--gpu-rate 202000]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from types import SimpleNamespace

from _common import load_sentences


class _Config(SimpleNamespace):
    def to_dict(self) -> dict:  # what the encoder's model fingerprint reads
        return dict(vars(self))


class _StandIn:
    """Returns hidden states of the right shape without computing them: the model's cost removed."""

    def __init__(self, n_layers: int, dim: int) -> None:
        import torch

        self.config = _Config(num_hidden_layers=n_layers, hidden_size=dim, max_position_embeddings=512,
                                      model_type="bert", _attn_implementation="sdpa")
        self._weight = torch.nn.Parameter(torch.zeros(1))
        self._buffers: list | None = None

    def parameters(self):
        yield self._weight

    def state_dict(self, keep_vars: bool = False):  # what the encoder's model fingerprint reads
        return {"weight": self._weight}

    def __call__(self, input_ids, attention_mask, output_hidden_states=False, **_):
        import torch

        shape = (*input_ids.shape, self.config.hidden_size)
        size = shape[0] * shape[1] * shape[2]
        if self._buffers is None or self._buffers[0].numel() < size:  # written once, then reused:
            self._buffers = [torch.rand(size) for _ in range(self.config.num_hidden_layers + 1)]  # pages in use
        layers = tuple(b[:size].view(shape) for b in self._buffers)
        return SimpleNamespace(hidden_states=layers if output_hidden_states else None,
                               last_hidden_state=layers[-1], attentions=None)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10000, help="sentences for the pipeline without the model")
    p.add_argument("--profile-n", type=int, default=1000, help="sentences for the profile of the real model")
    p.add_argument("--layers", type=int, default=12, help="stand-in model: transformer layers")
    p.add_argument("--dim", type=int, default=768, help="stand-in model: hidden size")
    p.add_argument("--gpu-rate", type=float, default=202_000,
                   help="tokens/s of a forward pass on a GPU, to put the CPU side in proportion "
                        "(default: BERT-base fp32 forward + last-layer mean measured on one H200)")
    p.add_argument("--batch-size", type=int, default=128)
    args = p.parse_args()

    import bertviz_kit as bk
    from bertviz_kit.config import Settings
    from bertviz_kit.encoder import Encoder

    enc = bk.load(device="cpu")
    texts = load_sentences(None, args.profile_n)
    enc.encode(texts[:32])
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    es = enc.encode(texts, batch_size=args.batch_size)
    bk.sentence_vectors(es)
    prof.disable()
    total = time.perf_counter() - t
    stats = pstats.Stats(prof).stats  # (file, line, name) -> (cc, nc, tottime, cumtime, callers)
    model_time = sum(v[3] for k, v in stats.items()
                     if k[2] == "_wrapped_call_impl" and any(c[2] == "_forward" for c in v[4]))
    tokenize = sum(v[2] for k, v in stats.items() if "encode_batch" in k[2])
    inside_model = {k for k in stats if "site-packages" in k[0]}  # torch's and transformers' Python code
    per_text = sum(v[2] for k, v in stats.items() if v[1] >= len(texts) and k not in inside_model
                   and "encode_batch" not in k[2])
    print(f"profile: {len(texts)} sentences, {es.n_tokens} tokens, bundled model, all layers kept, "
          f"batch {args.batch_size}: {total:.2f} s")
    print(f"  model forward       {model_time:6.2f} s  {model_time / total:6.1%}")
    print(f"  tokenizer (Rust)    {tokenize:6.2f} s  {tokenize / total:6.1%}")
    print(f"  per-text work       {per_text:6.3f} s  {per_text / total:6.1%}  (target < 10%)")
    rest = total - model_time - tokenize - per_text
    print(f"  batched tensor code {rest:6.2f} s  {rest / total:6.1%}  (gathers, scatter into the flat tensor, "
          f"pooling, planning)")
    top = sorted(((v[2], v[1], k[2]) for k, v in stats.items() if v[1] >= len(texts) and k not in inside_model),
                 reverse=True)[:5]
    if top:
        print("  largest per-text items: " + ", ".join(f"{name} ({calls} calls, {s * 1e3:.1f} ms)"
                                                   for s, calls, name in top))

    texts = load_sentences(None, args.n)
    stand_in = Encoder(_StandIn(args.layers, args.dim), enc.tokenizer, Settings(max_length=512, cpu_linear="torch"),
                       "stand-in")
    stand_in.encode(texts[:64], batch_size=args.batch_size)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        es = stand_in.encode(texts, batch_size=args.batch_size)
        bk.sentence_vectors(es)
        best = min(best, time.perf_counter() - t)
    rate = es.n_tokens / best
    gpu = es.n_tokens / args.gpu_rate
    print(f"\npipeline without the model: {len(texts)} sentences, {es.n_tokens} tokens, "
          f"{args.layers + 1} layers x {args.dim} kept in float32 ({es.nbytes / 2**30:.2f} GiB): "
          f"{best:.2f} s, {rate:,.0f} tokens/s")
    print(f"  next to a forward pass at {args.gpu_rate:,.0f} tokens/s ({gpu:.2f} s), the CPU side is "
          f"{best / (best + gpu):.0%} of the time if nothing overlapped")


if __name__ == "__main__":
    main()
