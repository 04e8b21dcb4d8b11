"""Throughput of ``Encoder.encode`` (all layers kept) + ``sentence_vectors``, against peers.

Measured in one run, in alternating rounds (each round times every contender once, in a
rotating order), reporting median tokens/s and the median of the per-round ratios:

* bertviz_kit fp32 (default path) versus sentence-transformers ``encode`` on the same texts;
* bertviz_kit with ``dtype="bfloat16"`` weights versus sentence-transformers, and its cosine
  agreement with fp32 on the bank sentence (word vectors, ``sum_last4``);
* versus one sentence at a time (the tutorial's loop: tokenizer + model per sentence, all
  hidden states stacked), on the first ``--loop-n`` sentences;
* as a share of the machine's fp32 matmul ceiling (``[s, s] @ [s, s]`` GFLOP/s measured in
  each round, right before the model runs, the best of ``torch.mm`` and oneDNN; model
  FLOPs counted per sentence);
* on a CPU where the default path uses oneDNN's packed kernels (``cpu_linear="auto"``),
  also bertviz_kit fp32 with PyTorch's own kernels (``cpu_linear="torch"``);
* on a GPU, also with the states kept on the GPU (``encode(texts, device="cuda")``, pooled
  there) besides the default host storage (copied through reused page-locked buffers);
* ``encode(texts, layers=[-1])`` + ``sentence_vectors`` against a bare forward pass (the
  fast tokenizer, length-sorted batches, the model, the mean of the last layer on the
  device: nothing kept), the floor of any toolkit that runs the model (target: within 85%).

Then the peer table (``_peers.py``): every contender in a fresh process per round, in
alternating rounds, on the same texts: bertviz_kit float32 and bfloat16 (all layers kept),
sentence-transformers with its PyTorch, ONNX Runtime (fp32) and OpenVINO (fp32 and OpenVINO's
default precision) backends, the last two from their own environments (``bash
benchmarks/peers/setup.sh``; skipped with a note when absent). It prints tokens/s, ratios to the
fastest peer, the agreement checks (fp32 within 1e-4 of sentence-transformers' PyTorch run,
bfloat16 cosine >= 0.999) and the targets (float32 >= 1.25x the fastest fp32 peer, bfloat16 >=
1.1x the fastest peer at any precision). ``--peer-rounds 0`` leaves it out.

``--model random-bert-base`` measures a BERT-base-shaped model (12 layers, 768 dims,
random weights, the bundled tokenizer) offline: speed does not depend on the weights.
``--smoke`` runs everything on a few sentences (a check that the script works).

Usage::

    python benchmarks/throughput.py                       # CPU, 2,000 sentences
    bash benchmarks/peers/setup.sh                        # once: the ONNX and OpenVINO peers
    python benchmarks/throughput.py --rounds 0 --peer-rounds 3   # the peer table alone
    python benchmarks/throughput.py --device cuda --n 10000 --batch-size 128 --st-batch-size 128
    python benchmarks/throughput.py --model random-bert-base --device cuda --n 10000 --batch-size 128
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import sys

from _common import (
    BANK_TEXT,
    DEFAULT_DATA,
    flops_per_text,
    load_sentences,
    matmul_rates,
    median,
    timed,
)
from _peers import run_peers


def make_model(name: str | None) -> str | None:
    """The model to measure: ``None`` (bundled), a folder or name, or ``"random-bert-base"``."""
    if name != "random-bert-base":
        return name
    import shutil
    import tempfile
    from pathlib import Path

    import torch
    from transformers import BertConfig, BertModel

    import bertviz_kit as bk

    folder = Path(tempfile.mkdtemp(prefix="random-bert-base-"))
    torch.manual_seed(0)
    BertModel(BertConfig()).save_pretrained(folder)  # 12 layers, 768 dims, vocabulary 30522 (as MiniLM's)
    bundled = Path(bk.bundled_model_path())
    for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (bundled / f).exists():
            shutil.copy(bundled / f, folder / f)
    return str(folder)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DEFAULT_DATA), help="sentence_polarity folder")
    p.add_argument("--n", type=int, default=2000, help="sentences (default 2000)")
    p.add_argument("--rounds", type=int, default=3, help="timed rounds after one warm-up")
    p.add_argument("--batch-size", type=int, default=None, help="bertviz_kit batch size (default: its own)")
    p.add_argument("--st-batch-size", type=int, default=32, help="sentence-transformers batch size")
    p.add_argument("--loop-n", type=int, default=200, help="sentences for the one-at-a-time loop")
    p.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    p.add_argument("--dtypes", default="float32,bfloat16", help="bertviz_kit dtypes to time")
    p.add_argument("--lowp-n", type=int, default=None,
                   help="sentences for non-float32 dtypes (default: --n on a GPU or a CPU that runs them "
                        "natively, else 500: emulated bfloat16/float16 is slow)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--matmul-size", type=int, default=2048)
    p.add_argument("--model", default=None,
                   help="model folder or name (default: the bundled MiniLM); 'random-bert-base' builds a "
                        "BERT-base-shaped model with random weights and the bundled tokenizer")
    p.add_argument("--peer-rounds", type=int, default=3,
                   help="rounds of the peer table (each contender in a fresh process per round); 0: none")
    p.add_argument("--smoke", action="store_true", help="a few sentences, one round: checks the script runs")
    args = p.parse_args(argv)
    if args.smoke:
        args.n, args.rounds, args.loop_n, args.matmul_size = min(args.n, 48), 1, 4, 256
        args.peer_rounds = min(args.peer_rounds, 1)
    if args.rounds == 0:  # the peer table alone
        return peer_table(args)

    import torch
    from sentence_transformers import SentenceTransformer

    import bertviz_kit as bk
    from bertviz_kit.loading import cpu_has_native

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    texts = load_sentences(args.data, args.n)
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    model = make_model(args.model)
    encoders = {dt: bk.load(model, device=args.device, dtype=dt) for dt in dtypes}
    ref = encoders.get("float32") or bk.load(model, device=args.device)
    plain = None
    if "float32" in encoders and encoders["float32"].cpu_linear == "onednn":
        plain = bk.load(model, device=args.device, cpu_linear="torch")
    st = SentenceTransformer(str(model or bk.bundled_model_path()), device=args.device)
    st.eval()

    tok = ref.tokenizer(texts, add_special_tokens=True)["input_ids"]
    n_tokens = sum(len(t) for t in tok)
    flops = sum(flops_per_text(ref.model.config, len(t)) for t in tok)
    native = args.device.startswith("cuda") or all(
        cpu_has_native(dt) for dt in dtypes if dt != "float32")
    lowp_n = args.lowp_n or (args.n if native else min(args.n, 500))
    lowp_texts = texts[:lowp_n]
    lowp_tokens = sum(len(t) for t in tok[:lowp_n])
    loop_texts = texts[: args.loop_n]
    loop_tokens = sum(len(t) for t in tok[: args.loop_n])
    bs = {} if args.batch_size is None else {"batch_size": args.batch_size}

    def ours(enc, items, **kw):
        return lambda: bk.sentence_vectors(enc.encode(items, **bs, **kw))

    def bare(enc, items):  # nothing kept: tokenizer, sorted batches, forward, last-layer mean on the device
        size = args.batch_size or 32
        tok = enc.tokenizer
        order = sorted(range(len(items)), key=lambda k: len(items[k]), reverse=True)

        def run():  # with the same CPU kernels bertviz_kit uses (oneDNN where it picked them)
            with torch.inference_mode(), enc._packed or contextlib.nullcontext():
                out = []
                for s in range(0, len(order), size):
                    batch = tok([items[k] for k in order[s:s + size]], padding=True, return_tensors="pt",
                                truncation=True, max_length=enc.max_length).to(enc.device)
                    hidden = enc.model(**batch).last_hidden_state
                    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    out.append((hidden * mask).sum(1) / mask.sum(1))
                torch.cat(out).cpu()
        return run

    def st_run():
        st.encode(texts, batch_size=args.st_batch_size, show_progress_bar=False)

    def loop_run():  # the tutorial's way: one sentence, one forward, stack all layers
        model, tokenizer = ref.model, ref.tokenizer
        with torch.inference_mode():
            for t in loop_texts:
                inputs = tokenizer(t, return_tensors="pt").to(ref.device)
                out = model(**inputs, output_hidden_states=True)
                hs = torch.stack(out.hidden_states).squeeze(1).float().cpu()  # [L+1, T, D]
                hs[-1, 1:-1].mean(0)

    contenders = {f"bertviz_kit {dt}": ours(enc, texts if dt == "float32" else lowp_texts)
                  for dt, enc in encoders.items()}
    if plain is not None:
        contenders["bertviz_kit float32 torch"] = ours(plain, texts)
    on_gpu = args.device.startswith("cuda")
    for dt, enc in encoders.items():
        items = texts if dt == "float32" else lowp_texts
        if on_gpu:  # states kept on the GPU, pooled there; the sentence vectors come back to the host
            contenders[f"bertviz_kit {dt} kept on GPU"] = (
                lambda enc=enc, items=items: bk.sentence_vectors(enc.encode(items, device=args.device, **bs)).cpu())
        contenders[f"bertviz_kit {dt} layers=[-1]"] = ours(enc, items, layers=[-1])
        contenders[f"bare forward {dt}"] = bare(enc, items)
    contenders["sentence-transformers"] = st_run
    contenders["one-at-a-time loop"] = loop_run
    sizes = {k: n_tokens for k in contenders}
    sizes["one-at-a-time loop"] = loop_tokens
    for dt in encoders:
        if dt != "float32":
            for k in (f"bertviz_kit {dt}", f"bertviz_kit {dt} layers=[-1]", f"bare forward {dt}",
                      f"bertviz_kit {dt} kept on GPU"):
                if k in sizes:
                    sizes[k] = lowp_tokens
    times: dict[str, list[float]] = {k: [] for k in contenders}
    ceiling: list[float] = []
    paths: dict[str, list[float]] = {}
    share: list[float] = []
    names = list(contenders)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}, "
          f"device {args.device}, capability {torch.backends.cpu.get_cpu_capability()}, "
          f"float32 linear kernels {ref.cpu_linear or 'device default'}")
    print(f"{len(texts)} sentences, {n_tokens} tokens, {flops / n_tokens / 1e6:.1f} MFLOP/token; "
          f"loop on {len(loop_texts)} sentences; other dtypes than float32 on {lowp_n}; "
          f"{args.rounds} rounds + 1 warm-up")
    for r in range(args.rounds + 1):
        order = names[r % len(names):] + names[: r % len(names)]
        for k in order:
            if k == "bertviz_kit float32":
                rates = matmul_rates(args.device, args.matmul_size)
                g = max(rates.values())
            dt = timed(contenders[k])
            if r == 0:
                continue
            times[k].append(dt)
            if k == "bertviz_kit float32":
                ceiling.append(g)
                for name, v in rates.items():
                    paths.setdefault(name, []).append(v)
                share.append(flops / dt / 1e9 / g)
        if r:
            print(f"round {r}: " + ", ".join(f"{k} {sizes[k] / times[k][-1]:,.0f} tok/s" for k in order),
                  flush=True)

    def rate(k):
        return median([sizes[k] / t for t in times[k]])

    def ratio(a, b):
        return median([(sizes[a] / ta) / (sizes[b] / tb) for ta, tb in zip(times[a], times[b])])

    print("\nmedian tokens/s")
    for k in names:
        print(f"  {k:32s} {rate(k):9,.0f}")
    print("\nratios (median of per-round ratios)")
    for k in names:
        if k.startswith("bertviz_kit"):
            print(f"  {k} / sentence-transformers: {ratio(k, 'sentence-transformers'):.2f}x")
            print(f"  {k} / one-at-a-time loop:    {ratio(k, 'one-at-a-time loop'):.2f}x")
    for dt in encoders:
        print(f"  bertviz_kit {dt} layers=[-1] / bare forward {dt}: "
              f"{ratio(f'bertviz_kit {dt} layers=[-1]', f'bare forward {dt}'):.2f}x (target >= 0.85x)")
    if plain is not None:
        print(f"  oneDNN kernels / torch kernels (bertviz_kit float32): "
              f"{ratio('bertviz_kit float32', 'bertviz_kit float32 torch'):.2f}x")
    if share:
        each = ", ".join(f"{name} {median(v):.0f}" for name, v in paths.items())
        print(f"\nfp32 matmul ceiling: {median(ceiling):.0f} GFLOP/s ([{args.matmul_size}]^2 fp32, best of "
              f"{each})")
        print(f"bertviz_kit float32 reaches {median(share):.0%} of it "
              f"({median([flops / t / 1e9 for t in times['bertviz_kit float32']]):.0f} GFLOP/s of model work)")
    if len(encoders) > 1 and "float32" in encoders:
        e32 = encoders["float32"].encode(BANK_TEXT)
        for dt, enc in encoders.items():
            if dt == "float32":
                continue
            cos = torch.nn.functional.cosine_similarity(
                bk.word_vectors(e32, layers="sum_last4"), bk.word_vectors(enc.encode(BANK_TEXT), layers="sum_last4")
            )
            print(f"{dt} vs float32 on the bank sentence (word vectors, sum_last4): "
                  f"min cosine {cos.min().item():.5f}, mean {cos.mean().item():.5f}")
    if args.peer_rounds > 0:
        print()
        return peer_table(args)
    return 0


def peer_table(args) -> int:
    """The peer comparison: each contender (bertviz_kit, sentence-transformers backends) in its own process."""
    import bertviz_kit as bk

    if args.device != "cpu" or args.model == "random-bert-base":
        print("the peer table runs on the CPU with the bundled model or a model folder; left out")
        return 0
    texts = load_sentences(args.data, args.n)
    model = args.model or bk.bundled_model_path()
    n_tokens = sum(len(t) for t in bk.load(model).tokenizer(texts)["input_ids"])
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    run_peers(model, texts, n_tokens, dtypes, max(args.peer_rounds, 1), args.batch_size, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
