"""The tutorial's model offline after one step: bk.download / `bertviz-kit download` against a
mocked Hub (files copied from a local folder; no network), then the folder through bk.load, the
CLI's --model, a YAML model: key and BERTVIZ_KIT_MODEL; and the "model not there" messages."""

from __future__ import annotations

import fnmatch
import shutil
import socket
from pathlib import Path

import huggingface_hub
import pytest
import torch

import bertviz_kit as bk
from bertviz_kit.cli import main


@pytest.fixture
def hub(tmp_path_factory, tiny_path, monkeypatch):
    """A fake Hub: ``snapshot_download`` copies the files of a local repository folder that match
    ``allow_patterns`` (as huggingface_hub matches them); every call is recorded. Sockets are refused."""
    repo = tmp_path_factory.mktemp("hub") / "bert-tiny-cased"
    shutil.copytree(tiny_path, repo)
    (repo / "pytorch_model.bin").write_bytes(b"a pickle that must never be fetched")
    (repo / "tf_model.h5").write_bytes(b"tensorflow weights")
    (repo / "onnx").mkdir()
    (repo / "onnx" / "model.onnx").write_bytes(b"onnx")
    (repo / "README.md").write_text("model card")
    repos = {"someorg/bert-tiny-cased": repo}
    calls = []

    def snapshot_download(repo_id, *, revision=None, local_dir=None, allow_patterns=None, **kwargs):
        calls.append({"repo_id": repo_id, "revision": revision, "allow_patterns": list(allow_patterns)})
        if repo_id not in repos:
            raise OSError(f"404 Client Error: Repository Not Found for url: https://huggingface.co/{repo_id}")
        src = repos[repo_id]
        for f in src.rglob("*"):
            rel = f.relative_to(src).as_posix()
            if f.is_file() and any(fnmatch.fnmatch(rel, p) for p in allow_patterns):
                (Path(local_dir) / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, Path(local_dir) / rel)
        return str(local_dir)

    def refuse(*args, **kwargs):
        raise OSError("network access attempted in a test")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return repos, calls


def test_download_fetches_config_tokenizer_and_safetensors_only(hub, tmp_path):
    _, calls = hub
    folder = bk.download("someorg/bert-tiny-cased", tmp_path / "models")
    assert folder == str(tmp_path / "models" / "bert-tiny-cased")
    names = sorted(p.name for p in Path(folder).iterdir() if p.is_file())
    assert "config.json" in names and "model.safetensors" in names and "tokenizer.json" in names
    assert not [n for n in names if n.endswith((".bin", ".h5", ".onnx", ".md"))]
    assert not (Path(folder) / "onnx").exists()
    assert calls == [{"repo_id": "someorg/bert-tiny-cased", "revision": None,
                      "allow_patterns": list(bk.loading.DOWNLOAD_PATTERNS)}]
    # once: a complete folder is not fetched again (unless force=True)
    assert bk.download("someorg/bert-tiny-cased", tmp_path / "models") == folder
    assert len(calls) == 1
    bk.download("someorg/bert-tiny-cased", tmp_path / "models", revision="v1", force=True)
    assert len(calls) == 2 and calls[-1]["revision"] == "v1"


def test_the_downloaded_folder_loads_offline_every_way(hub, tmp_path, monkeypatch, capsys):
    folder = bk.download("someorg/bert-tiny-cased", tmp_path / "models")
    monkeypatch.setattr(huggingface_hub, "snapshot_download", None)  # nothing may download now
    enc = bk.load(folder, device="cpu")
    ref = enc.encode("the bank").hidden_states
    assert enc.n_layers == 3 and enc.dim == 32
    # a YAML model: key
    config = tmp_path / "config.yml"
    config.write_text(f"model: {folder}\ndevice: cpu\n")
    assert torch.equal(bk.load(config=config).encode("the bank").hidden_states, ref)
    # the environment variable: the default model of bk.load(), the CLI and every notebook
    monkeypatch.setenv(bk.MODEL_ENV, folder)
    env_enc = bk.load(device="cpu")
    assert env_enc.n_layers == 3 and torch.equal(env_enc.encode("the bank").hidden_states, ref)
    assert bk.Settings().model == folder
    # an explicit model or a YAML key wins over the variable
    assert bk.load(bk.bundled_model_path(), device="cpu").name == "sentence-transformers/all-MiniLM-L6-v2"
    # the CLI: --model, and the variable
    out = tmp_path / "out"
    assert main(["--model", folder, "--device", "cpu", "demo", "--out", str(out)]) == 0
    assert "(3 layers, 32 dims)" in capsys.readouterr().out
    assert main(["--device", "cpu", "demo", "--out", str(out), "--token", "robber"]) == 0
    assert "(3 layers, 32 dims)" in capsys.readouterr().out


def test_cli_download_prints_how_to_use_the_folder(hub, tmp_path, capsys):
    target = tmp_path / "models"
    assert main(["download", "someorg/bert-tiny-cased", "--to", str(target)]) == 0
    out = capsys.readouterr().out
    folder = target / "bert-tiny-cased"
    assert f"someorg/bert-tiny-cased is in {folder}" in out
    assert f"bk.load('{folder}')" in out and f"export BERTVIZ_KIT_MODEL={folder.resolve()}" in out
    assert (folder / "model.safetensors").is_file()


def test_download_errors_are_clean(hub, tmp_path, monkeypatch, capsys):
    repos, _ = hub
    assert main(["download", "someorg/no-such-model", "--to", str(tmp_path)]) == 2
    assert "could not download 'someorg/no-such-model'" in capsys.readouterr().err
    # a repository without safetensors weights: nothing pickled is fetched instead
    bin_only = tmp_path / "bin-only"
    shutil.copytree(repos["someorg/bert-tiny-cased"], bin_only)
    (bin_only / "model.safetensors").unlink()
    repos["someorg/bin-only"] = bin_only
    with pytest.raises(OSError, match="no .safetensors weights"):
        bk.download("someorg/bin-only", tmp_path / "models")
    assert not list((tmp_path / "models").rglob("*.bin"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError, match="HF_HUB_OFFLINE=0 bertviz-kit download someorg/x --to models"):
        bk.download("someorg/x")
    with pytest.raises(bk.InvalidParameterError, match="name must be a Hugging Face model name"):
        bk.download("a/b/c")


def test_a_model_that_is_not_there_names_the_download_command(tmp_path, monkeypatch, capsys):
    with pytest.raises(FileNotFoundError, match=r"bertviz-kit download bert-base-cased --to models"):
        bk.load("models/bert-base-cased")
    with pytest.raises(OSError, match=r"bertviz-kit download bert-base-cased --to models.*download=True"):
        bk.load("bert-base-cased", cache_dir=str(tmp_path / "empty-cache"))
    monkeypatch.setenv(bk.MODEL_ENV, "models/bert-base-cased")
    with pytest.raises(FileNotFoundError, match="from the environment variable BERTVIZ_KIT_MODEL.*absolute path"):
        bk.load()
    assert main(["demo"]) == 2
    err = capsys.readouterr().err
    assert "bertviz-kit download bert-base-cased --to models" in err
    monkeypatch.setenv(bk.MODEL_ENV, "")  # empty: the bundled model
    assert bk.Settings().model is None
