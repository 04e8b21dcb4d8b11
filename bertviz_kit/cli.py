"""The ``bertviz-kit`` command: ``demo``, ``encode``, ``extract`` and ``download``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .examples import BANK_TEXT

#: File formats the ``demo`` figures can be written in.
FIGURE_FORMATS = ("png", "svg", "pdf")


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {value!r}")
    return n


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bertviz-kit", description="Look inside BERT-like encoders (offline by default)."
    )
    p.add_argument("--model", default=None,
                   help="model folder or name (default: $BERTVIZ_KIT_MODEL when set, else the bundled MiniLM)")
    p.add_argument("--config", default=None, help="YAML settings file (read with safe_load)")
    p.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N or mps")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="the tutorial's case study: three 'bank's compared")
    d.add_argument("text", nargs="?", default=BANK_TEXT, help="text (default: the bank sentence)")
    d.add_argument("--word", default="bank", help="word whose occurrences are compared")
    d.add_argument("--layers", default="sum_last4", help="layer spec for word vectors")
    d.add_argument("--out", default="out", help="folder for the figures (default: out)")
    d.add_argument("--format", default="png", choices=FIGURE_FORMATS,
                   help="file format of the figures (default: png; svg and pdf are vector graphics)")
    d.add_argument("--dpi", type=_positive_int, default=120,
                   help="resolution in dots per inch (default: 120; in svg/pdf only images use it)")
    d.add_argument("--token", default=None,
                   help="token for the histogram: a token index or a word (case-insensitive, whole words; "
                        "default: --word)")
    d.add_argument("--occurrence", type=int, default=None,
                   help="which occurrence of a --token word (0 = the first, -1 = the last)")
    d.add_argument("--layer", type=int, default=-1, help="layer for the histogram")
    d.add_argument("--html", default=None, metavar="PATH",
                   help="also write the explorer's views (with attention) as one self-contained HTML file "
                        "that works in any browser without a kernel or network, e.g. out/bank.html")

    e = sub.add_parser("encode", help="encode texts and print shapes (and save tensors)")
    e.add_argument("texts", nargs="*", help="texts; read lines from --file or stdin when none")
    e.add_argument("--file", default=None, help="a text file, one text per line")
    e.add_argument("--batch-size", type=int, default=32)
    e.add_argument("--save", default=None, help="save sentence vectors to this .pt file")
    x = sub.add_parser("extract", help="encode a text file (one text per line) into a store on disk")
    x.add_argument("file", help="text file, one text per line (empty lines are kept as empty texts)")
    x.add_argument("out", help="store folder (rerun to resume an interrupted extraction)")
    x.add_argument("--layers", default="all", help="layers to keep: all, an int, a,b,c or a preset")
    x.add_argument("--dtype", default="float16", help="float16 (default), bfloat16 or float32")
    x.add_argument("--batch-size", type=int, default=32)
    x.add_argument("--shard-size", type=int, default=256)
    v = sub.add_parser("verify", help="check every shard of a store against its SHA-256 (exit 1 if any is damaged)")
    v.add_argument("path", help="store folder (or the parent folder of its parts)")

    g = sub.add_parser("download", help="fetch a Hugging Face model once (config, tokenizer, safetensors) "
                                        "for offline use")
    g.add_argument("name", help="model on the Hub, e.g. bert-base-cased")
    g.add_argument("--to", default="models", help="parent folder (default: models); the model goes to TO/NAME")
    g.add_argument("--revision", default=None, help="branch, tag or commit (default: main)")
    g.add_argument("--force", action="store_true", help="download again even when the folder is complete")
    return p


def read_lines(path: str | os.PathLike) -> list[str]:
    """The lines of a UTF-8 text file, split at line feeds only (``\n``, ``\r\n``).

    ``str.splitlines`` would also split at form feeds, file separators, NEL and the Unicode
    line and paragraph separators, which can sit inside one text (a 5-line file became 9
    texts). A file that is not UTF-8 is refused with its name, the offending byte and a fix.
    """
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{str(path)!r} is not UTF-8 text (byte {data[exc.start]:#04x} at position {exc.start}); "
            f"convert it first, e.g. `iconv -f latin1 -t utf-8 {path} > texts.txt`."
        ) from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line starts no new text
    return [line.removesuffix("\r") for line in lines]


def _verify(path: str) -> int:
    import bertviz_kit as bk

    try:
        store = bk.open_store(path)
    except bk.CorruptStoreError as exc:
        print(f"damaged: {exc}")
        return 1
    problems = store.verify()
    for p in problems:
        print(f"damaged: {p}")
    if not problems:
        print(f"ok: {len(store)} records in {len(store.manifest['shards'])} shards, every checksum matches")
    return 1 if problems else 0


def _download(args: argparse.Namespace) -> int:
    import bertviz_kit as bk

    folder = bk.download(args.name, args.to, revision=args.revision, force=args.force)
    files = sorted(p for p in Path(folder).iterdir() if p.is_file())
    size = sum(p.stat().st_size for p in files) / 2**20
    print(f"{args.name} is in {folder} ({len(files)} files, {size:.1f} MiB): "
          + ", ".join(p.name for p in files))
    print("use it offline with any of:")
    print(f"  bk.load({folder!r})")
    print(f"  bertviz-kit --model {folder} demo")
    print(f"  model: {folder}            (a YAML settings file)")
    print(f"  export {bk.MODEL_ENV}={Path(folder).resolve()}   (every notebook and command)")
    return 0


def _extract(args: argparse.Namespace, enc) -> int:
    import bertviz_kit as bk

    texts = read_lines(args.file)
    store = bk.extract(enc, texts, args.out, layers=_layers(args.layers), dtype=args.dtype,
                       batch_size=args.batch_size, shard_size=args.shard_size, progress=True)
    print(store)
    return 0


def _layers(spec: str) -> int | str | list[int]:
    try:
        return int(spec)
    except ValueError:
        pass
    if "," in spec:
        try:
            return [int(v) for v in spec.split(",")]
        except ValueError:
            pass
    return spec


def _demo(args: argparse.Namespace, enc) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import bertviz_kit as bk

    if args.html is not None:
        from .explorer.static_page import html_path

        html_path(args.html, folder=False)  # a bad file name fails before the work; the folder is made
    e = enc.encode(args.text, attentions=args.html is not None)
    layers = _layers(args.layers)
    idx = bk.find(e, args.word)
    print(f"model: {enc.name} ({enc.n_layers} layers, {enc.dim} dims)")
    print(f"text: {e.text}")
    print(f"tokens ({e.n_tokens}): {' '.join(e.tokens)}")
    print(f"hidden states: {list(e.hidden_states.shape)} [layers+1, tokens, dim]; "
          f"by token: {list(e.by_token().shape)}")
    if not idx:
        print(f"error: word {args.word!r} does not occur in the text; words are: "
              f"{', '.join(e.words)}", file=sys.stderr)
        return 2
    labels = bk.occurrence_labels(e, args.word)
    print(f"{args.word!r} is word {idx} ({', '.join(labels)})")
    vecs = bk.word_vectors(e, layers=layers)[idx]
    sim = bk.cosine(vecs)
    print(f"\ncosine similarity, word vectors from layers={layers!r}:")
    width = max(len(s) for s in labels)
    print(" " * width + "  " + "  ".join(f"{s:>{width}}" for s in labels))
    for r, s in enumerate(labels):
        print(f"{s:>{width}}  " + "  ".join(f"{v:>{width}.4f}" for v in sim[r].tolist()))
    curves = {}
    print("\nper-layer cosine (layer 0 = embeddings):")
    for a in range(len(idx)):
        for b in range(a + 1, len(idx)):
            c = bk.layer_similarity(e, idx[a], idx[b])
            key = f"{labels[a]} ~ {labels[b]}"
            curves[key] = c
            print(f"  {key}: " + " ".join(f"{v:.3f}" for v in c.tolist()))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    token = args.word if args.token is None else args.token
    if token.lstrip("-").isdigit():
        token = int(token)
    files = []
    fmt, dpi = args.format, args.dpi
    try:
        ax = bk.plot_histogram(e, token=token, layer=args.layer, occurrence=args.occurrence)
    except bk.InvalidParameterError as exc:  # name the option, not the function's parameter
        option = "--token" if "token" in str(exc) else "--layer" if "layer" in str(exc) else "--occurrence"
        raise bk.InvalidParameterError(f"{option}: {exc}") from None
    files.append(_save(ax, out / f"histogram.{fmt}", plt, dpi))
    ax = bk.plot_similarity_heatmap(sim, labels, title=f"'{args.word}' occurrences, {layers}")
    files.append(_save(ax, out / f"similarity_heatmap.{fmt}", plt, dpi))
    if curves:
        ax = bk.plot_layer_similarity(curves, title=f"'{args.word}' pairs across layers")
        files.append(_save(ax, out / f"layer_similarity.{fmt}", plt, dpi))
    print("\nfigures: " + ", ".join(str(f) for f in files))
    if args.html is not None:
        Path(args.html).parent.mkdir(parents=True, exist_ok=True)
        print(f"page: {bk.to_html(e, args.html, word=args.word, layers=layers)}")
    return 0


def _save(ax, path: Path, plt, dpi: int = 120) -> Path:
    ax.figure.savefig(path, dpi=dpi)
    plt.close(ax.figure)
    return path


def _encode(args: argparse.Namespace, enc) -> int:
    import torch

    import bertviz_kit as bk

    texts = list(args.texts)
    if args.save and Path(args.save).is_dir():
        print(f"error: --save {args.save!r} is a folder; give a file name, e.g. --save "
              f"{Path(args.save) / 'vectors.pt'}", file=sys.stderr)
        return 2
    if args.file:
        texts += read_lines(args.file)
    elif not texts:
        texts = [line.rstrip("\n") for line in sys.stdin]
    texts = [t for t in texts if t.strip()]
    if not texts:
        print("error: no texts given (arguments, --file or stdin)", file=sys.stderr)
        return 2
    es = enc.encode(texts, batch_size=args.batch_size, progress=len(texts) > 64)
    for e in es[:10]:
        print(f"{e.n_tokens:4d} tokens  {list(e.hidden_states.shape)}  {e.text[:60]}")
    if len(es) > 10:
        print(f"... {len(es) - 10} more")
    if args.save:
        vecs = bk.sentence_vectors(es)
        torch.save({"texts": texts, "sentence_vectors": vecs}, args.save)
        print(f"saved sentence vectors {list(vecs.shape)} to {args.save}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import bertviz_kit as bk

    try:
        if args.command == "verify":  # reads the store alone: no model needed
            return _verify(args.path)
        if args.command == "download":  # needs no model loaded
            return _download(args)
        enc = bk.load(args.model, config=args.config, device=args.device)
        if args.command == "demo":
            return _demo(args, enc)
        if args.command == "extract":
            return _extract(args, enc)
        return _encode(args, enc)
    except (ValueError, TypeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
