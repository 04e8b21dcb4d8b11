"""oneDNN packed float32 linear layers on the CPU (bertviz_kit.kernels)."""

from __future__ import annotations

import pytest
import torch

import bertviz_kit as bk
from bertviz_kit import kernels
from bertviz_kit.kernels import PackedLinears, onednn_available

needs_onednn = pytest.mark.skipif(not onednn_available(), reason="PyTorch without oneDNN")


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(24, 40), torch.nn.GELU(), torch.nn.Linear(40, 8, bias=False)).eval()


@pytest.fixture
def calls(monkeypatch) -> list[int]:
    """Records each call of the oneDNN kernel."""
    seen: list[int] = []
    real = kernels._linear
    monkeypatch.setattr(kernels, "_linear", lambda *a: seen.append(1) or real(*a))
    return seen


@needs_onednn
def test_packed_linears_match_torch_and_leave_the_model_alone():
    net = _net()
    keys = list(net.state_dict())
    x = torch.randn(3, 5, 24)
    ref = net(x)
    with torch.inference_mode(), PackedLinears(net):
        assert all("forward" in vars(m) for m in net if isinstance(m, torch.nn.Linear))
        out = net(x)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
    assert not any("forward" in vars(m) for m in net)  # switched back on exit
    assert list(net.state_dict()) == keys


@needs_onednn
def test_packed_kernels_are_used_and_repacked_after_weight_changes(calls):
    net = _net()
    packed = PackedLinears(net)
    x = torch.randn(4, 24)
    with torch.inference_mode(), packed:
        net(x)
    assert len(calls) == 2
    with torch.no_grad():
        net[0].weight.mul_(2.0)  # in place: same storage, new version
    net[2].weight = torch.nn.Parameter(torch.randn(8, 40))  # replaced
    with torch.inference_mode(), packed:
        out = net(x)
    torch.testing.assert_close(out, net(x), rtol=1e-4, atol=1e-5)


@needs_onednn
def test_gradients_and_other_dtypes_take_the_torch_path(calls):
    net = _net()
    x = torch.randn(4, 24)
    with PackedLinears(net):
        loss = net(x).sum()  # grad enabled, weights require grad
        loss.backward()
        assert net[0].weight.grad is not None
        net.double()(x.double())  # float64
    assert calls == []


@needs_onednn
@pytest.mark.parametrize("which", ["tiny", "bundled"])
def test_encoder_onednn_equals_torch_kernels(which, tiny_path):
    path = tiny_path if which == "tiny" else None
    enc = bk.load(path, device="cpu", cpu_linear="onednn")
    assert enc.cpu_linear == "onednn"
    ref = bk.load(path, device="cpu", cpu_linear="torch")
    assert ref.cpu_linear == "torch" and ref._packed is None
    texts = ["After stealing money from the bank vault", "the river bank", ""]
    for a, b in zip(enc.encode(texts), ref.encode(texts)):
        torch.testing.assert_close(a.hidden_states, b.hidden_states, rtol=1e-4, atol=1e-4)
    assert not any("forward" in vars(m) for m in enc.model.modules())


def test_cpu_linear_choices(tiny_path, monkeypatch, tmp_path):
    with pytest.raises(ValueError, match=r"cpu_linear must be one of \('auto', 'onednn', 'torch'\); got 'mkl'"):
        bk.load(tiny_path, cpu_linear="mkl")
    assert bk.load(tiny_path, dtype="bfloat16").cpu_linear is None  # only float32 is switched
    cfg = tmp_path / "config.yml"
    cfg.write_text(f"model: {tiny_path}\ncpu_linear: torch\n")
    assert bk.load(config=cfg).cpu_linear == "torch"
    from bertviz_kit import encoder

    monkeypatch.setattr(encoder, "onednn_available", lambda: False)
    assert bk.load(tiny_path, device="cpu").cpu_linear == "torch"  # auto falls back
    with pytest.raises(ValueError, match="no oneDNN packed linear kernels"):
        bk.load(tiny_path, device="cpu", cpu_linear="onednn")


INTEL_AVX512 = ("Intel(R) Advanced Vector Extensions 512 (Intel(R) AVX-512) with support of Intel(R) Deep "
                "Learning Boost (Intel(R) DL Boost), EVEX-encoded AES and Carry-Less Multiplication (CLMUL) "
                "enabled processors")
AVX2 = "Intel(R) Advanced Vector Extensions 2 (Intel(R) AVX2) enabled processors"


@pytest.mark.parametrize(
    ("flags", "mkl", "expected", "why"),
    [
        ({"avx2", "avx512f"}, INTEL_AVX512, "torch", "MKL runs its AVX-512 code"),  # Intel Xeon
        ({"avx2", "avx512f", "avx512_bf16"}, AVX2, "onednn", "MKL runs narrower code"),  # AMD Zen 4/5
        ({"avx2", "avx512f"}, "Intel(R) Architecture processors", "onednn", "MKL runs narrower code"),
        ({"avx2", "fma"}, "Intel(R) Architecture processors", "torch", "no AVX-512"),  # AMD Zen 3
        ({"avx2"}, AVX2, "torch", "no AVX-512"),
        (set(), None, "torch", "no AVX-512"),  # not x86, or no /proc/cpuinfo
        ({"avx512f"}, None, "torch", "MKL"),  # MKL's line unreadable or no MKL
    ],
)
def test_auto_decides_from_the_cpu_and_the_libraries(monkeypatch, flags, mkl, expected, why):
    monkeypatch.setattr(kernels, "onednn_available", lambda: True)
    monkeypatch.setattr(kernels, "cpu_flags", lambda cpuinfo="/proc/cpuinfo": frozenset(flags))
    monkeypatch.setattr(kernels, "mkl_code_path", lambda: mkl)
    kernels.choose_cpu_linear.cache_clear()
    try:
        choice, reason = kernels.choose_cpu_linear()
    finally:
        kernels.choose_cpu_linear.cache_clear()
    assert choice == expected and why in reason


def test_auto_never_times_anything(tiny_path, monkeypatch):
    """The same machine and settings always run the same kernels: no timing race decides."""
    def refuse(*a, **k):
        raise AssertionError("cpu_linear='auto' must not time the kernels")

    monkeypatch.setattr(kernels, "onednn_speedup", refuse)
    kernels.choose_cpu_linear.cache_clear()
    enc = bk.load(tiny_path, device="cpu")
    assert (enc.cpu_linear, enc.cpu_linear_reason) == kernels.choose_cpu_linear()
    assert {bk.load(tiny_path, device="cpu").cpu_linear for _ in range(3)} == {enc.cpu_linear}
    assert bk.load(tiny_path, device="cpu", cpu_linear="torch").cpu_linear_reason.startswith("asked for")


def test_cpu_flags_reads_the_flags_line(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu avx2 avx512f\n")
    assert kernels.cpu_flags(str(info)) == {"fpu", "avx2", "avx512f"}
    assert kernels.cpu_flags(str(tmp_path / "missing")) == frozenset()


@pytest.mark.skipif(not torch.backends.mkl.is_available(), reason="this PyTorch build has no MKL")
def test_mkl_code_path_is_read_here():
    path = kernels.mkl_code_path()
    assert path is not None and path.endswith("processors")
    assert kernels._mkl_runs_avx512(INTEL_AVX512) and not kernels._mkl_runs_avx512(AVX2)


@needs_onednn
def test_onednn_speedup_is_a_positive_ratio():
    assert kernels.onednn_speedup(32) > 0


@needs_onednn
def test_head_features_use_the_encoders_kernels(tiny_path, calls):
    texts = ["good good world", "bad bank", "the river bank"]
    fast = bk.EncoderWithHead(bk.load(tiny_path, device="cpu", cpu_linear="onednn"), out_features=2)
    plain = bk.EncoderWithHead(bk.load(tiny_path, device="cpu", cpu_linear="torch"), out_features=2)
    ref = plain.sentence_features(texts)
    assert calls == []
    got = fast.sentence_features(texts)
    assert len(calls) > 0
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)
    assert not any("forward" in vars(m) for m in fast.modules())


@needs_onednn
def test_encoders_and_heads_with_packed_weights_copy_and_pickle(tiny_path):
    import copy
    import io

    enc = bk.load(tiny_path, device="cpu", cpu_linear="onednn")
    ref = enc.encode("the river bank").hidden_states  # weights packed now
    twin = copy.deepcopy(enc)
    assert twin._packed.model is twin.model
    torch.testing.assert_close(twin.encode("the river bank").hidden_states, ref)
    m = bk.EncoderWithHead(bk.load(tiny_path, device="cpu", cpu_linear="onednn"), out_features=2)
    feats = m.sentence_features(["the river bank"])  # weights packed now
    buf = io.BytesIO()
    torch.save(m, buf)
    buf.seek(0)
    back = torch.load(buf, weights_only=False)
    torch.testing.assert_close(back.sentence_features(["the river bank"]), feats)
    torch.testing.assert_close(copy.deepcopy(m).sentence_features(["the river bank"]), feats)
