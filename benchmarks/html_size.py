"""Size of the no-kernel HTML view (bk.html_view) for the tutorial sentence and a bert-base shape.

    python benchmarks/html_size.py [--text TEXT]

Two cases, each with attention:

- the bundled all-MiniLM-L6-v2 on the bank sentence (7 hidden states x 22 tokens x 384, 12 heads);
- a bert-base shaped model (13 hidden states, 768 dims, 12 heads) with random weights, saved with
  the bundled tokenizer into a temporary folder (nothing downloads), on a sentence of 27 tokens.

Prints the page size and its parts (the inlined Vega library, the data tables) and how long
the page took to build. The limits the tests hold the pages to: 1 MB and 5 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import bertviz_kit as bk  # noqa: E402

#: 27 tokens with the bundled (bert-base-uncased) vocabulary, [CLS] and [SEP] included.
BERT_BASE_TEXT = ("After stealing money from the bank vault, the bank robber was seen fishing "
                  "on the Mississippi river bank near the old mill today.")


def bert_base_encoder(folder: str) -> bk.Encoder:
    """A randomly initialised bert-base shaped BertModel with the bundled tokenizer, loaded from ``folder``."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    BertModel(BertConfig()).save_pretrained(folder)
    AutoTokenizer.from_pretrained(bk.bundled_model_path()).save_pretrained(folder)
    return bk.load(folder)


def report(name: str, e: bk.Encoding) -> None:
    t0 = time.perf_counter()
    view = bk.html_view(e)
    seconds = time.perf_counter() - t0
    tables = len(json.dumps(view.data, separators=(",", ":")))
    print(f"{name}: {e.n_layers + 1} hidden states x {e.n_tokens} tokens x {e.dim}, "
          f"{int(e.attentions.shape[1])} heads")
    print(f"  page {view.n_bytes / 1e6:.3f} MB (data tables {tables / 1e6:.3f} MB), built in {seconds:.1f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--text", default=BERT_BASE_TEXT, help="sentence for the bert-base shape")
    args = p.parse_args()
    report("all-MiniLM-L6-v2, bank sentence", bk.load().encode(bk.BANK_TEXT, attentions=True))
    with tempfile.TemporaryDirectory() as folder:
        enc = bert_base_encoder(folder)
        report("bert-base shape (random weights)", enc.encode(args.text, attentions=True))


if __name__ == "__main__":
    main()
