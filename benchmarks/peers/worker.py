"""One contender of the peer comparison, in a process of its own (``benchmarks/throughput.py --peers``).

Runs under any interpreter: the project's (bertviz_kit, sentence-transformers with PyTorch)
or a peer environment's made by ``setup.sh`` (sentence-transformers with its ONNX Runtime or
OpenVINO backend). It imports only what its contender needs.

``export``: writes the ONNX or OpenVINO IR export of a local model folder (offline) to a folder.
``run``: loads the contender, warms it up on the first ``--warmup`` texts, then times one
``encode`` of all texts and prints one JSON line (``seconds``, versions); the sentence vectors
(L2-normalised, float32) go to ``--vectors`` for the agreement checks.

Contenders: ``bertviz_kit float32`` / ``bertviz_kit bfloat16`` (``enc.encode(texts)`` with all
layers kept + ``bk.sentence_vectors(..., specials="include")``, the mean over every token as
sentence-transformers pools), ``st torch``, ``st onnx fp32``, ``st openvino fp32``
(``INFERENCE_PRECISION_HINT: f32``) and ``st openvino default`` (OpenVINO's own precision choice).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ST_KWARGS = {
    "st torch": {"backend": "torch"},
    "st onnx fp32": {"backend": "onnx"},
    "st openvino fp32": {"backend": "openvino", "model_kwargs": {"ov_config": {"INFERENCE_PRECISION_HINT": "f32"}}},
    "st openvino default": {"backend": "openvino"},
}
BK_DTYPES = {"bertviz_kit float32": "float32", "bertviz_kit bfloat16": "bfloat16"}
CONTENDERS = [*BK_DTYPES, *ST_KWARGS]


def export(backend: str, source: str, out: str) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(source, device="cpu", backend=backend)
    model.save_pretrained(out)


def st_kwargs(contender: str, threads: int) -> dict:
    """``SentenceTransformer`` arguments of a contender; ``threads`` > 0 fixes its intra-op threads."""
    kw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in ST_KWARGS[contender].items()}
    if threads > 0 and kw["backend"] == "onnx":
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        kw["model_kwargs"] = {"session_options": options}
    elif threads > 0 and kw["backend"] == "openvino":
        kw.setdefault("model_kwargs", {"ov_config": {}})
        kw["model_kwargs"]["ov_config"] = {**kw["model_kwargs"]["ov_config"], "INFERENCE_NUM_THREADS": str(threads)}
    return kw


def load(contender: str, model: str, batch_size: int, threads: int = 0):
    """A function ``texts -> [n, dim] numpy`` for the contender (not yet run), and what it runs with."""
    if contender in BK_DTYPES:
        import bertviz_kit as bk

        enc = bk.load(model, dtype=BK_DTYPES[contender])
        kw = {} if batch_size <= 0 else {"batch_size": batch_size}

        def run(texts):
            v = bk.sentence_vectors(enc.encode(texts, **kw), specials="include").float()
            return (v / v.norm(dim=1, keepdim=True)).numpy()

        return run, {"bertviz_kit": bk.__version__, "cpu_linear": enc.cpu_linear}
    import sentence_transformers
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(model, device="cpu", **st_kwargs(contender, threads))
    size = batch_size if batch_size > 0 else 32

    def run(texts):
        return st.encode(texts, batch_size=size, show_progress_bar=False, normalize_embeddings=True,
                         convert_to_numpy=True)

    info = {"sentence_transformers": sentence_transformers.__version__}
    for mod in ("transformers", "onnxruntime", "openvino", "optimum"):
        try:
            info[mod] = __import__(mod).__version__
        except (ImportError, AttributeError):
            pass
    if ST_KWARGS[contender]["backend"] == "openvino":
        info["ov_precision"] = ov_precision(st[0].auto_model)
    return run, info


def ov_precision(model) -> str:
    """The precision OpenVINO compiled the model for (its default follows the CPU's instructions)."""
    for get in (lambda: model.compiled_model, lambda: model.request.get_compiled_model(), lambda: model.request):
        try:
            return str(get().get_property("INFERENCE_PRECISION_HINT"))
        except Exception:  # noqa: BLE001, S112 - try the next way this optimum-intel release exposes it
            continue
    return "unknown"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("--backend", choices=["onnx", "openvino"], required=True)
    e.add_argument("--model", required=True)
    e.add_argument("--out", required=True)
    r = sub.add_parser("run")
    r.add_argument("--contender", choices=CONTENDERS, required=True)
    r.add_argument("--model", required=True)
    r.add_argument("--texts", required=True, help="JSON file: a list of strings")
    r.add_argument("--vectors", default=None, help=".npy file for the normalised sentence vectors")
    r.add_argument("--batch-size", type=int, default=0, help="0: the contender's default")
    r.add_argument("--warmup", type=int, default=64)
    r.add_argument("--threads", type=int, default=0,
                   help="intra-op threads (torch, ONNX Runtime or OpenVINO); 0: each library's default")
    args = p.parse_args(argv)
    if args.cmd == "export":
        export(args.backend, args.model, args.out)
        return 0
    import numpy as np
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    with open(args.texts, encoding="utf-8") as f:
        texts = json.load(f)
    run, info = load(args.contender, args.model, args.batch_size, args.threads)
    run(texts[: args.warmup])
    t = time.perf_counter()
    vectors = run(texts)
    seconds = time.perf_counter() - t
    if args.vectors:
        np.save(args.vectors, np.asarray(vectors, dtype=np.float32))
    print(json.dumps({"seconds": seconds, "n": len(texts), "threads": torch.get_num_threads(), **info}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
