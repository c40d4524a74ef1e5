"""The VGGFace2 ResNet-50 / SE-ResNet-50 (Cao et al. 2018) and a loader for their converted weights.

The Oxford VGG group released Caffe models; the widely used PyTorch conversion
(cydonia999/VGGFace2-pytorch: `resnet50_ft_weight.pkl`, `senet50_ft_weight.pkl`,
`*_scratch_weight.pkl`) publishes each as a pickled dict {parameter name: numpy array}
for an architecture that differs from torchvision's ResNet in three Caffe details, kept here
so the names and shapes fit:

- the stride of a bottleneck sits on its first 1x1 convolution, not on the 3x3;
- the stem's max-pool has no padding and rounds up (`ceil_mode=True`);
- the SE block of SE-ResNet is two 1x1 convolutions with bias (`conv4` reduce by 16, `conv5`
  expand) after global average pooling, applied before the residual sum.

Input: 224 x 224 BGR in pixel units minus the Caffe mean (B 91.4953, G 103.8827, R 131.0912),
no scaling (from the models' prototxt). Features: the 2048-d global average pool before the
identity classifier (8631 classes).

`load_vggface2_pickle` reads the pickle with an unpickler that admits only numpy arrays and
plain containers (the pickle counterpart of `torch.load(weights_only=True)`).
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

CAFFE_MEAN_BGR = (91.4953, 103.8827, 131.0912)
IDENTITIES = 8631


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 se: bool = False):
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False)  # Caffe: stride on the 1x1
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.se = se
        if se:
            self.conv4 = nn.Conv2d(out, out // 16, 1, bias=True)
            self.conv5 = nn.Conv2d(out // 16, out, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.se:
            gate = out.mean(dim=(2, 3), keepdim=True)
            out = out * torch.sigmoid(self.conv5(self.relu(self.conv4(gate))))
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(out + residual)


class VGGFace2ResNet(nn.Module):
    """ResNet / SE-ResNet with the VGGFace2 Caffe models' layer names; `forward` -> pooled [B, 512 * 4 * width/64]."""

    def __init__(self, layers: tuple[int, ...] = (3, 4, 6, 3), se: bool = False, width: int = 64,
                 num_classes: int = IDENTITIES):
        super().__init__()
        self.se = se
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=0, ceil_mode=True)
        self.layer1 = self._make_layer(width, layers[0], 1)
        self.layer2 = self._make_layer(width * 2, layers[1], 2)
        self.layer3 = self._make_layer(width * 4, layers[2], 2)
        self.layer4 = self._make_layer(width * 8, layers[3], 2)
        self.num_features = width * 8 * Bottleneck.expansion
        self.fc = nn.Linear(self.num_features, num_classes)  # kept so the published files load strictly
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * Bottleneck.expansion:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * Bottleneck.expansion, 1, stride=stride,
                                                 bias=False), nn.BatchNorm2d(planes * Bottleneck.expansion))
        layers = [Bottleneck(self.inplanes, planes, stride, downsample, se=self.se)]
        self.inplanes = planes * Bottleneck.expansion
        layers += [Bottleneck(self.inplanes, planes, se=self.se) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x.mean(dim=(2, 3))  # = the Caffe 7x7 average pool at 224 px, and any size else


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Admits numpy arrays, dtypes and plain containers; anything else is refused (no code runs)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict"),
        ("_codecs", "encode"),  # how Python 3 writes bytes in protocol-2 pickles
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights pickle")
        return super().find_class(module, name)


def read_weights_pickle(path: str | Path) -> dict[str, np.ndarray]:
    """The published format: a pickled dict {name: numpy array} (written by Python 2: latin1 strings)."""
    with open(path, "rb") as f:
        weights = _NumpyOnlyUnpickler(f, encoding="latin1").load()
    if not isinstance(weights, dict) or not all(isinstance(v, np.ndarray) for v in weights.values()):
        raise ValueError(f"{path}: not a pickled dict of numpy arrays (the VGGFace2 converted-weights format)")
    return weights


def load_vggface2_pickle(model: VGGFace2ResNet, path: str | Path) -> None:
    """Copy a published `*_weight.pkl` into `model`; every parameter and buffer must be present, with its shape."""
    weights = read_weights_pickle(path)
    own = model.state_dict()
    unexpected = sorted(set(weights) - set(own))
    missing = sorted(k for k in set(own) - set(weights) if not k.endswith("num_batches_tracked"))
    if unexpected or missing:
        raise ValueError(f"{path}: does not fit the VGGFace2 {'SE-' if model.se else ''}ResNet "
                         f"(unexpected: {unexpected[:5]}, missing: {missing[:5]})")
    state = {}
    for name, value in weights.items():
        if tuple(value.shape) != tuple(own[name].shape):
            raise ValueError(f"{path}: {name} has shape {value.shape}, the model expects {tuple(own[name].shape)}")
        state[name] = torch.from_numpy(np.array(value, dtype=np.float32 if value.dtype.kind == "f" else value.dtype))
    model.load_state_dict(state, strict=False)


def load_vggface2_file(model: VGGFace2ResNet, path: str | Path) -> None:
    """A published pickle (`.pkl`), or a torch state dict of the same names (`.pth`/`.pt`, weights only)."""
    if Path(path).suffix == ".pkl":
        load_vggface2_pickle(model, path)
    else:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
