"""Peer comparison of ``benchmarks/throughput.py``: every contender in a fresh process per round.

Contenders: bertviz_kit float32 and bfloat16 (all layers kept + ``sentence_vectors``) and
sentence-transformers with its PyTorch backend, run by this interpreter; sentence-transformers
with its ONNX Runtime backend (fp32) and its OpenVINO backend (fp32, and OpenVINO's default
precision), each run by the interpreter of its own environment (``.venv-peer-*`` at the
repository's root, made by
``bash benchmarks/peers/setup.sh``; a peer whose environment is absent is skipped with a note).
Rounds alternate (A B C ... A B C ...); each run loads its contender, warms it up on a few
texts, then times one ``encode`` of all texts (``peers/worker.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import HERE, median

WORKER = HERE / "peers" / "worker.py"
ROOT = HERE.parent
#: peer contenders run in another environment: contender -> (backend, environment folder); the
#: environments and the exported models sit at the repository's root, git-ignored, outside the
#: folders whose files the tests scan
VENV_PEERS = {
    "st onnx fp32": ("onnx", ROOT / ".venv-peer-onnx"),
    "st openvino fp32": ("openvino", ROOT / ".venv-peer-openvino"),
    "st openvino default": ("openvino", ROOT / ".venv-peer-openvino"),
}
MODELS = ROOT / ".peer-models"
FP32_PEERS = ("st torch", "st onnx fp32", "st openvino fp32")
SETUP = "bash benchmarks/peers/setup.sh"


def _env() -> dict[str, str]:
    root = str(ROOT)
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
            "PYTHONPATH": root if not path else f"{root}{os.pathsep}{path}"}


def _call(python: str, *args: str) -> str:
    out = subprocess.run([python, str(WORKER), *args], capture_output=True, text=True, env=_env())
    if out.returncode:
        raise SystemExit(f"{python} {WORKER.name} {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return out.stdout


def exported(backend: str, python: str, source: str) -> str:
    """The folder holding ``source`` exported for ``backend`` (made once, offline, under .peer-models/)."""
    folder = MODELS / backend
    marker = folder / ("onnx/model.onnx" if backend == "onnx" else "openvino/openvino_model.xml")
    if not marker.exists():
        print(f"exporting the model to {backend} (offline, once): {folder}", flush=True)
        _call(python, "export", "--backend", backend, "--model", source, "--out", str(folder))
    return str(folder)


def contenders(model: str, dtypes: list[str]) -> dict[str, tuple[str, str]]:
    """contender -> (interpreter, model folder), with a note for each peer whose environment is absent."""
    found = {f"bertviz_kit {dt}": (sys.executable, model) for dt in dtypes if dt in ("float32", "bfloat16")}
    found["st torch"] = (sys.executable, model)
    for name, (backend, venv) in VENV_PEERS.items():
        python = venv / "bin" / "python"
        if not (venv / ".installed").exists():  # setup.sh marks a finished environment
            print(f"note: {name} skipped: no {venv.relative_to(ROOT)} (set it up with: {SETUP} {backend})")
            continue
        found[name] = (str(python), exported(backend, str(python), model))
    return found


def measure(found, texts: list[str], rounds: int, batch_size: int | None, threads: int | None, folder: Path):
    """Seconds per contender per round, the last round's vectors, and what each reported."""
    names = list(found)
    data = folder / "texts.json"
    data.write_text(json.dumps(texts), encoding="utf-8")
    times: dict[str, list[float]] = {k: [] for k in names}
    info: dict[str, dict] = {}
    for r in range(rounds):
        for k in names:
            python, model = found[k]
            size = batch_size if batch_size and k.startswith("bertviz_kit") else 0
            out = _call(python, "run", "--contender", k, "--model", model, "--texts", str(data),
                        "--vectors", str(folder / f"{k}.npy"), "--batch-size", str(size),
                        "--threads", str(threads or 0), "--warmup", str(min(64, len(texts))))
            info[k] = json.loads(out.strip().splitlines()[-1])
            times[k].append(info[k]["seconds"])
        print(f"peer round {r + 1}: " + ", ".join(f"{k} {times[k][-1]:.1f} s" for k in names), flush=True)
    return times, info


def _agreement(folder: Path, names: list[str]) -> list[str]:
    import numpy as np

    ref = np.load(folder / "st torch.npy")
    lines = []
    for k in names:
        if k == "st torch":
            continue
        v = np.load(folder / f"{k}.npy")
        cos = (v * ref).sum(1)
        if "bfloat16" in k or k == "st openvino default":
            ok = cos.min() >= 0.999
            lines.append(f"  {k:24s} min cosine {cos.min():.6f} vs st torch fp32 (check >= 0.999: "
                         f"{'ok' if ok else 'FAILED'}); max |diff| {np.abs(v - ref).max():.1e}")
        else:
            diff = float(np.abs(v - ref).max())
            lines.append(f"  {k:24s} max |diff| {diff:.1e} vs st torch fp32 (check <= 1e-4: "
                         f"{'ok' if diff <= 1e-4 else 'FAILED'}); min cosine {cos.min():.6f}")
    return lines


def run_peers(model: str, texts: list[str], n_tokens: int, dtypes: list[str], rounds: int,
              batch_size: int | None = None, threads: int | None = None) -> None:
    """Print the peer table: median tokens/s, ratios to the fastest peer, agreement checks, targets."""
    found = contenders(model, dtypes)
    with tempfile.TemporaryDirectory(prefix="bk-peers-") as tmp:
        times, info = measure(found, texts, rounds, batch_size, threads, Path(tmp))
        checks = _agreement(Path(tmp), list(found))
    rate = {k: median([n_tokens / t for t in v]) for k, v in times.items()}
    peers = [k for k in found if not k.startswith("bertviz_kit")]
    fastest = max(peers, key=rate.get)
    fp32 = [k for k in peers if k in FP32_PEERS or "float32" in str(info[k].get("ov_precision", ""))]
    fastest32 = max(fp32, key=rate.get)  # OpenVINO's default counts as fp32 where it compiled float32

    def ratio(a, b):
        return median([tb / ta for ta, tb in zip(times[a], times[b])])

    print(f"\npeers, each in a fresh process per round ({rounds} rounds, {len(texts)} sentences, {n_tokens} tokens)")
    for k in found:
        extra = {key: v for key, v in info[k].items() if key not in ("seconds", "n")}
        print(f"  {k:24s} {rate[k]:9,.0f} tokens/s  {ratio(k, fastest):.2f}x the fastest peer ({fastest})  {extra}")
    print("agreement (normalised sentence vectors, mean over all tokens, last round)")
    print("\n".join(checks))
    targets = [("bertviz_kit float32", fastest32, 1.25), ("bertviz_kit bfloat16", fastest, 1.1)]
    for ours, peer, goal in targets:
        if ours in times:
            got = ratio(ours, peer)
            print(f"target: {ours} (all layers) >= {goal}x {peer}: {got:.2f}x, "
                  f"{'met' if got >= goal else 'NOT met'}")
