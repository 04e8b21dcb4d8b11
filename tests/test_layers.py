"""The one layer convention (bertviz_kit/layers.py): ``layer`` is one int (0 = embeddings, negatives
from the top), and every public function that takes one refuses a bad value with the same message."""

import re

import pytest
from conftest import BANK_TEXT

import bertviz_kit as bk
from bertviz_kit.layers import resolve_layer, stored_row

# the tiny model has 3 transformer layers: layers -4..3, 0 = embeddings
ONE_LAYER = re.escape("layer must be an int in [-4, 3] (0 = embeddings, negatives count from the top); got ")
ATTENTION_LAYER = re.escape("layer must be an int in [1, 3] or [-3, -1] (transformer layers, negatives count "
                            "from the top); got ")


def test_resolve_layer():
    assert [resolve_layer(v, 3) for v in (0, 1, 3, -1, -4)] == [0, 1, 3, 3, 0]
    assert [resolve_layer(v, 3, embeddings=False) for v in (1, 3, -1, -3)] == [1, 3, 3, 1]
    for bad in (4, -5, 1.0, True, "last", [1], None):
        with pytest.raises(bk.InvalidParameterError, match=ONE_LAYER):
            resolve_layer(bad, 3)
    for bad in (0, 4, -4):
        with pytest.raises(bk.InvalidParameterError, match=ATTENTION_LAYER):
            resolve_layer(bad, 3, embeddings=False)


def test_stored_row(tiny):
    e = tiny.encode(BANK_TEXT, layers=[0, -1])
    assert stored_row(e, 0) == 0 and stored_row(e, -1) == 1 and stored_row(e, 3) == 1
    with pytest.raises(bk.InvalidParameterError, match=r"layer=1 needs model layer 1, which this encoding did not"):
        stored_row(e, 1)
    es = tiny.encode([BANK_TEXT, "the river bank"], layers=[0, -1])
    with pytest.raises(bk.InvalidParameterError, match=r"which this corpus did not store; it has layers \(0, 3\)"):
        stored_row(es, 2)


@pytest.mark.parametrize("bad", [9, "sum_last4", [1]])
def test_every_one_layer_parameter_gives_the_same_error(tiny, tiny_bank, bad):
    es = tiny.encode([BANK_TEXT, "the river bank was muddy"])
    calls = [
        lambda: bk.plot_histogram(tiny_bank, "bank", layer=bad),
        lambda: bk.static_embeddings(es, ["bank"], layer=bad),
        lambda: bk.nearest_contexts(es, tiny_bank, "bank", layer=bad),
        lambda: bk.explore(tiny_bank, token="bank").set(layer=bad, redraw=False),
    ]
    for call in calls:
        with pytest.raises(bk.InvalidParameterError, match=ONE_LAYER):
            call()


def test_attention_layers_have_no_embeddings_layer(tiny_bank):
    for call in (lambda: bk.plot_attention(tiny_bank, layer=0), lambda: bk.plot_rollout(tiny_bank, layer=0)):
        with pytest.raises(bk.InvalidParameterError, match=ATTENTION_LAYER):
            call()
