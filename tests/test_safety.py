"""Safe loading: safe YAML, safetensors only, no remote code, no network unless asked."""

from __future__ import annotations

import json
import pickle
import shutil
import socket
from pathlib import Path

import huggingface_hub.constants
import pytest
import torch

import bertviz_kit as bk
from bertviz_kit.config import read_settings


# -- YAML ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/apply:subprocess.call [['touch', '{marker}']]",
        "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
        "!!python/name:os.system",
    ],
)
def test_load_refuses_python_tags_in_config_and_runs_nothing(tmp_path, tag):
    marker = tmp_path / "ran"
    path = tmp_path / "config.yml"
    path.write_text("device: cpu\nmodel: " + tag.format(marker=marker) + "\n")
    with pytest.raises(ValueError, match=r"config file .*config\.yml.* is not safe YAML"):
        bk.load(config=path)
    assert not marker.exists()


def test_yaml_is_read_with_safe_load_only():
    """No other YAML loader anywhere in the package."""
    src = Path(bk.__file__).parent
    for py in src.glob("*.py"):
        text = py.read_text()
        for unsafe in ("yaml.load(", "yaml.unsafe_load", "yaml.full_load", "yaml.Loader",
                       "yaml.FullLoader", "yaml.UnsafeLoader"):
            assert unsafe not in text, f"{py.name} uses {unsafe}"


def test_plain_yaml_values_stay_plain(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("model: '!!python/object:os.system'\nstride: 16\n")
    s = read_settings(path)
    assert s.model == "!!python/object:os.system" and s.stride == 16


# -- pickled weights ----------------------------------------------------------
class _Payload:
    """Unpickling this writes a marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _bin_only_model(tmp_path: Path, tiny_path: str, marker: Path) -> Path:
    folder = tmp_path / "bin-only"
    shutil.copytree(tiny_path, folder)
    (folder / "model.safetensors").unlink()
    with open(folder / "pytorch_model.bin", "wb") as fh:
        pickle.dump({"x": _Payload(str(marker))}, fh)
    return folder


def test_pickled_weights_are_not_unpickled_by_default(tmp_path, tiny_path):
    marker = tmp_path / "unpickled"
    folder = _bin_only_model(tmp_path, tiny_path, marker)
    with pytest.raises(OSError, match=r"has no \.safetensors weights.*use_safetensors=False"):
        bk.load(folder, device="cpu")
    assert not marker.exists()


def test_safetensors_win_over_pickles_in_the_same_folder(tmp_path, tiny_path):
    marker = tmp_path / "unpickled"
    folder = tmp_path / "both"
    shutil.copytree(tiny_path, folder)
    with open(folder / "pytorch_model.bin", "wb") as fh:
        pickle.dump({"x": _Payload(str(marker))}, fh)
    enc = bk.load(folder, device="cpu")
    assert enc.n_layers == 3 and enc.loading_info["missing_keys"] == []
    assert not marker.exists()


# -- remote code --------------------------------------------------------------
_EVIL = """
from pathlib import Path
Path({marker!r}).write_text("imported")
from transformers import BertConfig, BertModel


class EvilConfig(BertConfig):
    model_type = "evil-bert"


class EvilModel(BertModel):
    config_class = EvilConfig
"""


def _remote_code_model(tmp_path: Path, tiny_path: str, marker: Path, model_type: str) -> Path:
    folder = tmp_path / f"custom-code-{model_type}"
    shutil.copytree(tiny_path, folder)
    (folder / "evil.py").write_text(_EVIL.format(marker=str(marker)))
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = model_type
    config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModel": "evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config))
    tok = json.loads((folder / "tokenizer_config.json").read_text())
    tok["auto_map"] = {"AutoTokenizer": ["evil.EvilConfig", "evil.EvilConfig"]}
    (folder / "tokenizer_config.json").write_text(json.dumps(tok))
    return folder


def test_custom_code_of_a_known_model_type_is_not_run(tmp_path, tiny_path):
    marker = tmp_path / "code-ran"
    folder = _remote_code_model(tmp_path, tiny_path, marker, "bert")
    enc = bk.load(folder, device="cpu")  # transformers' own BertModel is used
    assert type(enc.model).__name__ == "BertModel"
    assert not marker.exists()


def test_custom_code_of_an_unknown_model_type_is_refused(tmp_path, tiny_path):
    marker = tmp_path / "code-ran"
    folder = _remote_code_model(tmp_path, tiny_path, marker, "evil-bert")
    with pytest.raises(OSError, match=rf"{folder.name}.*not run by default.*trust_remote_code=True"):
        bk.load(folder, device="cpu")
    assert not marker.exists()


def test_trust_remote_code_is_off_by_default():
    assert bk.Settings().trust_remote_code is False
    assert bk.Settings().use_safetensors is True
    assert bk.Settings().download is False


# -- network ------------------------------------------------------------------
@pytest.fixture
def no_network(monkeypatch):
    """Record and refuse every attempt to resolve a name or open a connection."""
    attempts: list[object] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    # as for a user without HF_HUB_OFFLINE: only bertviz_kit keeps the Hub client offline
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    return attempts


def test_the_network_guard_sees_attempts(no_network):
    with pytest.raises(OSError, match="network access attempted"):
        socket.create_connection(("huggingface.co", 443))
    assert len(no_network) == 1


def test_bundled_model_loads_without_network(no_network):
    enc = bk.load(device="cpu")
    assert enc.encode("the river bank").n_words == 3
    assert no_network == []


@pytest.mark.parametrize("offline_env", [None, "1"])
def test_missing_model_name_fails_without_network(no_network, monkeypatch, offline_env):
    if offline_env:
        monkeypatch.setenv("HF_HUB_OFFLINE", offline_env)
    with pytest.raises(OSError, match=r"'some/missing-model'.*download=True"):
        bk.load("some/missing-model", device="cpu")
    assert no_network == []


def test_hf_hub_offline_wins_over_download(no_network, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError, match=r"'some/missing-model'.*HF_HUB_OFFLINE must be unset"):
        bk.load("some/missing-model", device="cpu", download=True)
    assert no_network == []


def test_local_folder_loads_without_network(no_network, tiny_path):
    e = bk.load(tiny_path, device="cpu").encode("hello world")
    assert torch.isfinite(e.hidden_states).all()
    assert no_network == []


def _fake_cache(cache: Path, repo: str, tiny_path: str) -> None:
    """Lay the tiny model out as the Hugging Face cache stores a downloaded repository."""
    root = cache / ("models--" + repo.replace("/", "--"))
    commit = "0" * 40
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(commit)
    shutil.copytree(tiny_path, root / "snapshots" / commit)


def test_cached_model_name_loads_without_network(no_network, tmp_path, tiny_path):
    _fake_cache(tmp_path / "hub", "someone/tiny-bert", tiny_path)
    enc = bk.load("someone/tiny-bert", cache_dir=str(tmp_path / "hub"), device="cpu")
    assert enc.name == "someone/tiny-bert" and enc.n_layers == 3
    assert enc.encode("hello world").model_name == "someone/tiny-bert"
    assert no_network == []
    with pytest.raises(OSError, match=r"'someone/other'.*not in the local Hugging Face cache"):
        bk.load("someone/other", cache_dir=str(tmp_path / "hub"), device="cpu")
    with pytest.raises(OSError, match=r"'not a valid name'.*not in the local Hugging Face cache"):
        bk.load("not a valid name", cache_dir=str(tmp_path / "hub"), device="cpu")
    assert no_network == []
