from __future__ import annotations

import pytest

import bertviz_kit as bk
from bertviz_kit.config import Settings, read_settings


def test_read_settings_tutorial_keys(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text("config_name: some/model\ncache_dir: ./cache\nverbose: true\nmax_length: 128\n")
    s = read_settings(path)
    assert s.model == "some/model"
    assert s.cache_dir == "./cache"
    assert s.verbose is True
    assert s.max_length == 128


def test_python_tag_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.yml"
    path.write_text(
        f"model: !!python/object/apply:os.system ['touch {marker}']\n"
    )
    with pytest.raises(ValueError, match="not safe YAML"):
        read_settings(path)
    assert not marker.exists()


def test_unknown_key_names_allowed_keys(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("modle: x\n")
    with pytest.raises(ValueError, match=r"unknown setting 'modle'; allowed are"):
        read_settings(path)


def test_config_not_a_mapping(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ValueError, match="must hold a mapping"):
        read_settings(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        bk.load(config=tmp_path / "nope.yml")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dtype": "float64"}, r"dtype must be one of \('float32', 'bfloat16', 'float16'\); got 'float64'"),
        ({"device": "gpu"}, r"device must be one of"),
        ({"max_length": 3}, r"max_length must be an int >= 8"),
        ({"stride": -1}, r"stride must be an int >= 0"),
        ({"verbose": "yes"}, r"verbose must be true or false"),
    ],
)
def test_bad_settings(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        Settings(**kwargs)


def test_load_reads_config_file(tmp_path, tiny_path):
    path = tmp_path / "config.yml"
    path.write_text(f"model: {tiny_path}\nmax_length: 32\ndevice: cpu\n")
    enc = bk.load(config=path)
    assert enc.max_length == 32
    assert enc.n_layers == 3
    # keyword arguments override the file
    assert bk.load(config=path, max_length=40).max_length == 40


def test_cpu_linear_default_from_environment(monkeypatch):
    monkeypatch.setenv("BERTVIZ_KIT_CPU_LINEAR", "torch")
    assert bk.Settings().cpu_linear == "torch"
    assert bk.Settings(cpu_linear="auto").cpu_linear == "auto"  # an explicit value wins
    monkeypatch.setenv("BERTVIZ_KIT_CPU_LINEAR", "fastest")
    with pytest.raises(ValueError, match=r"cpu_linear must be one of \('auto', 'onednn', 'torch'\); got 'fastest'"):
        bk.Settings()
    monkeypatch.delenv("BERTVIZ_KIT_CPU_LINEAR")
    assert bk.Settings().cpu_linear == "auto"
