"""Models: linear, MLP, small CNN and small ResNet, built from the input shape by name.

All take ``(N, *input_shape)`` float inputs and return ``(N, n_classes)`` logits. Sizes are
small on purpose: these are the learners of the paper's image experiments shrunk to two CPU
cores (a CNN epoch on 60k Fashion-MNIST images takes seconds).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from collective_action.errors import InputError, check_choice

MODELS = ("linear", "mlp", "cnn", "resnet")


class MLP(nn.Module):
    """Flatten, then ``depth`` hidden ReLU layers of ``width`` units, then a linear read-out."""

    def __init__(self, n_inputs: int, n_classes: int, width: int = 256, depth: int = 1):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        size = n_inputs
        for _ in range(depth):
            layers += [nn.Linear(size, width), nn.ReLU()]
            size = width
        layers.append(nn.Linear(size, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class SmallCNN(nn.Module):
    """Two conv-ReLU-maxpool stages (``width``, 2*``width`` channels) and a linear read-out."""

    def __init__(self, in_channels: int, height: int, width_px: int, n_classes: int, width: int = 32):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.head = nn.Linear(2 * width * (height // 4) * (width_px // 4), n_classes)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity (or 1x1) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class SmallResNet(nn.Module):
    """A three-stage ResNet (one basic block per stage, ``width``-2w-4w channels), global pooling."""

    def __init__(self, in_channels: int, n_classes: int, width: int = 16):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU())
        self.stages = nn.Sequential(BasicBlock(width, width, 1), BasicBlock(width, 2 * width, 2),
                                    BasicBlock(2 * width, 4 * width, 2))
        self.head = nn.Linear(4 * width, n_classes)

    def forward(self, x):
        out = self.stages(self.stem(x))
        return self.head(out.mean(dim=(2, 3)))


def build_model(name: str, input_shape: tuple[int, ...], n_classes: int, width: int | None = None,
                depth: int = 1) -> nn.Module:
    """The model ``name`` for inputs of ``input_shape`` (without the batch axis)."""
    check_choice("model", name, MODELS)
    n_inputs = int(math.prod(input_shape))
    if name == "linear":
        return nn.Sequential(nn.Flatten(), nn.Linear(n_inputs, n_classes))
    if name == "mlp":
        return MLP(n_inputs, n_classes, width or 256, depth)
    if len(input_shape) != 3:
        raise InputError(f"model {name!r} needs images (C, H, W); inputs have shape {tuple(input_shape)}")
    channels, height, width_px = input_shape
    if name == "cnn":
        if height < 4 or width_px < 4:
            raise InputError(f"model 'cnn' needs images of at least 4x4, got {height}x{width_px}")
        return SmallCNN(channels, height, width_px, n_classes, width or 32)
    return SmallResNet(channels, n_classes, width or 16)
