from __future__ import annotations

from bertviz_kit.cli import main


def test_demo_on_bundled_model(tmp_path, capsys):
    assert main(["--device", "cpu", "demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "'bank' is word [5, 9, 18] (bank vault, bank robber, river bank)" in out
    assert "0.9406" in out
    for name in ("histogram.png", "similarity_heatmap.png", "layer_similarity.png"):
        assert (tmp_path / name).stat().st_size > 5000


def test_demo_missing_word_is_an_error(tmp_path, capsys, tiny_path):
    rc = main(["--model", tiny_path, "demo", "the river", "--word", "bank", "--out", str(tmp_path)])
    assert rc == 2
    assert "word 'bank' does not occur" in capsys.readouterr().err


def test_bad_model_path_is_a_clean_error(capsys, tmp_path):
    assert main(["--model", str(tmp_path / "nope"), "demo"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_encode_saves_vectors(tmp_path, capsys, tiny_path):
    import torch

    f = tmp_path / "texts.txt"
    f.write_text("hello world\nthe bank\n\n")
    target = tmp_path / "v.pt"
    assert main(["--model", tiny_path, "encode", "--file", str(f), "--save", str(target)]) == 0
    data = torch.load(target)
    assert data["sentence_vectors"].shape == (2, 32)
