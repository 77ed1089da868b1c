"""A decode batch's cache layer grows in place and always holds what concatenation would."""

from __future__ import annotations

import torch

from llm.kv_cache import GrowingLayer, batch_cache


def test_a_growing_layer_holds_what_concatenation_gives():
    layer = GrowingLayer()
    keys, values = torch.randn(2, 2, 5, 4), torch.randn(2, 2, 5, 4)
    layer.update(keys, values)
    for _ in range(40):  # past its first room (5 + 2 + 16 tokens): it must grow
        new_keys, new_values = torch.randn(2, 2, 1, 4), torch.randn(2, 2, 1, 4)
        got_keys, got_values = layer.update(new_keys, new_values)
        keys, values = torch.cat([keys, new_keys], 2), torch.cat([values, new_values], 2)
        assert torch.equal(got_keys, keys) and torch.equal(got_values, values)
    assert layer.get_seq_length() == 45


def test_keys_replaced_from_outside_are_kept():
    """The decode batch replaces a layer's keys when rows leave (other rows, or fewer padding
    columns on the left): the next token goes after them, not where the room's old keys ended."""
    layer = GrowingLayer()
    layer.update(torch.randn(3, 2, 6, 4), torch.randn(3, 2, 6, 4))
    layer.keys, layer.values = layer.keys[:, :, 2:], layer.values[:, :, 2:]  # padding trimmed
    kept_keys = layer.keys.clone()
    got_keys, _ = layer.update(torch.ones(3, 2, 1, 4), torch.ones(3, 2, 1, 4))
    assert torch.equal(got_keys[:, :, :4], kept_keys)
    assert torch.equal(got_keys[:, :, 4], torch.ones(3, 2, 4))
    layer.keys, layer.values = layer.keys[[0, 2]], layer.values[[0, 2]]  # row 1 leaves
    got_keys, _ = layer.update(torch.zeros(2, 2, 1, 4), torch.zeros(2, 2, 1, 4))
    assert torch.equal(got_keys[:, :, :4], kept_keys[[0, 2]])
    assert got_keys.shape == (2, 2, 6, 4)


def test_batch_cache_left_pads_each_part_to_the_width():
    short = [(torch.ones(1, 2, 3, 4), torch.ones(1, 2, 3, 4))]
    wide = [(torch.full((2, 2, 5, 4), 2.0), torch.full((2, 2, 5, 4), 2.0))]
    cache = batch_cache([short, wide], width=5)
    keys = cache.layers[0].keys
    assert keys.shape == (3, 2, 5, 4)
    assert torch.equal(keys[0, :, :2], torch.zeros(2, 2, 4))  # padding on the left
    assert torch.equal(keys[0, :, 2:], torch.ones(2, 3, 4))
    assert torch.equal(keys[1:], torch.full((2, 2, 5, 4), 2.0))
