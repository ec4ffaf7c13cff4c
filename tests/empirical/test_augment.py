"""Augmentation of training batches: exact integer shifts with zeros coming in, flips of about
half the points, a corner patch moved or cut, reproducible draws, and a real training that uses it."""

from __future__ import annotations

import torch

from collective_action.empirical.augment import make_augment, shift_batch


def test_every_point_is_translated_by_its_own_offset_with_zeros_coming_in():
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.float).reshape(2, 1, 6, 6) + 1
    x = x.repeat(20, 1, 1, 1)
    out = shift_batch(x, 2, torch.Generator().manual_seed(0))
    pad = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(len(x)):
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if torch.equal(out[i], pad[i][..., 2 - dy:8 - dy, 2 - dx:8 - dx])]
        assert matches, i  # each output is the input shifted by one integer offset in [-2, 2]^2
    assert (out == 0).any()  # zeros came in where the image moved away from a border
    assert len({tuple(o.flatten().tolist()) for o in out[::2]}) > 3  # offsets differ between points


def test_a_corner_patch_can_be_cut_by_a_shift():
    x = torch.zeros(200, 1, 10, 10)
    x[:, :, -3:, -3:] = 1.0  # a 3x3 patch in the bottom-right corner
    out = shift_batch(x, 3, torch.Generator().manual_seed(1))
    kept = out.sum(dim=(1, 2, 3))
    assert (kept < 9).any() and (kept == 9).any() and (kept >= 0).all()


def test_one_dimensional_signals_and_flips():
    x = torch.arange(1, 41, dtype=torch.float).repeat(100, 1)
    out = shift_batch(x, 4, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and (out[:, 0] == 0).any()
    flip = make_augment(flip=True)
    images = torch.arange(16, dtype=torch.float).reshape(1, 1, 4, 4).repeat(400, 1, 1, 1)
    flipped = flip(images, torch.Generator().manual_seed(0))
    is_flipped = (flipped == images.flip(-1)).flatten(1).all(1)
    assert 0.4 < is_flipped.float().mean() < 0.6
    assert ((flipped == images).flatten(1).all(1) | is_flipped).all()
    assert make_augment() is None
    a = make_augment(shift=2, flip=True)
    assert torch.equal(a(images, torch.Generator().manual_seed(3)), a(images, torch.Generator().manual_seed(3)))


def test_training_with_augmentation_runs_and_is_reproducible(cli, tmp_path):
    import json

    import yaml

    spec = {"name": "aug", "pillar": "empirical", "seeds": 1,
            "config": {"data": {"name": "digits", "val_size": 200}, "collective": {"alpha": 0.1, "target": 3},
                       "signal": {"kind": "patch", "place": "corner", "size": 2},
                       "train": {"model": "cnn", "width": 8, "epochs": 6, "batch_size": 64,
                                 "augment": {"shift": 1, "flip": True}}}}
    path = tmp_path / "aug.yaml"
    path.write_text(yaml.safe_dump(spec))
    rows = []
    for out in ("a", "b"):
        res = cli("train", path, "--out", tmp_path / out, "--device", "cpu")
        assert res.exit_code == 0, res.stderr
        rows.append(json.loads(cli("results", tmp_path / out, "--format", "json").stdout)[0])
    assert rows[0]["success"] == rows[1]["success"] and rows[0]["clean_accuracy"] == rows[1]["clean_accuracy"]
    assert rows[0]["clean_accuracy"] > 0.3
    assert json.loads(rows[0]["config"])["train"]["augment"] == {"shift": 1, "flip": True}
    spec["config"]["train"].pop("augment")
    path.write_text(yaml.safe_dump(spec))
    res = cli("train", path, "--out", tmp_path / "plain", "--device", "cpu")
    plain = json.loads(cli("results", tmp_path / "plain", "--format", "json").stdout)[0]
    assert "augment" not in json.loads(plain["config"])["train"]  # unchanged identity without augmentation
    assert (plain["success"], plain["clean_accuracy"]) != (rows[0]["success"], rows[0]["clean_accuracy"])
