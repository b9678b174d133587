"""Small generators that each break one promise of the model contract (for the check's tests).

Usage (``tests/models`` on ``PYTHONPATH``)::

    dissect-report check --generator contract_toys:batch_stats --segmenter \\
        stylegan_like:make_segmenter --layers body

Each is shaped like a real model's part: a BatchNorm with batch statistics, a channels-last
layer, images in [0, 1], the DCGAN tutorial's ``(N, z, 1, 1)`` latents, a unit that is NaN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _Base(nn.Module):
    z_dim = 8

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.fc = nn.Linear(8, 16 * 4 * 4)
        self.body = nn.Sequential(nn.Conv2d(16, 8, 3, padding=1), nn.ReLU())
        self.to_rgb = nn.Conv2d(8, 3, 1)

    def features(self, z: torch.Tensor) -> torch.Tensor:
        return self.fc(z).view(-1, 16, 4, 4)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.body(F.interpolate(self.features(z), scale_factor=4))
        return torch.tanh(self.to_rgb(x))


class BatchStats(_Base):
    """BatchNorm that normalizes by the batch's statistics even in eval mode."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(16, track_running_stats=False)

    def features(self, z: torch.Tensor) -> torch.Tensor:
        return self.norm(super().features(z))


class Permute(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1)


class ChannelsLast(_Base):
    """A layer ``nhwc`` whose output is (N, H, W, C), as in models written for TF layouts."""

    def __init__(self) -> None:
        super().__init__()
        self.nhwc = Permute()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.body(F.interpolate(self.features(z), scale_factor=4))
        x = self.nhwc(x).permute(0, 3, 1, 2)
        return torch.tanh(self.to_rgb(x))


class ZeroOne(_Base):
    """Images in [0, 1] instead of [-1, 1]."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (super().forward(z) + 1) / 2


class TutorialDCGAN(nn.Module):
    """The PyTorch DCGAN tutorial's layout, small: latents (N, 8, 1, 1), no z_dim attribute."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(5)
        self.main = nn.Sequential(
            nn.ConvTranspose2d(8, 16, 4, 1, 0, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(True),
            nn.ConvTranspose2d(16, 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(8),
            nn.ReLU(True),
            nn.ConvTranspose2d(8, 3, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class NaNUnit(_Base):
    """Unit 0 of ``body`` is NaN everywhere (a broken channel); the image stays finite."""

    def __init__(self) -> None:
        super().__init__()
        self.body.register_forward_hook(self._nan)

    @staticmethod
    def _nan(_m: nn.Module, _i: object, out: torch.Tensor) -> torch.Tensor:
        out = out.clone()
        out[:, 0] = float("nan")
        return out

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.body(F.interpolate(self.features(z), scale_factor=4))
        return torch.tanh(self.to_rgb(torch.nan_to_num(x)))


class Wide(_Base):
    """A 32 x 64 generator whose ``body`` is (8, 8, 16): 8 units of 8 x 16, C equal to H."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 16 * 4 * 8)

    def features(self, z: torch.Tensor) -> torch.Tensor:
        return self.fc(z).view(-1, 16, 4, 8)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.body(F.interpolate(self.features(z), scale_factor=2))
        return torch.tanh(F.interpolate(self.to_rgb(x), scale_factor=4))


def wide() -> Wide:
    return Wide()


class PowerIterationSN(nn.Module):
    """A hand-written SpectralNorm, as SAGAN/BigGAN code has it: one power iteration per
    forward, in eval mode too, written into the buffer ``u``."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv
        self.register_buffer("u", F.normalize(torch.ones(conv.weight.shape[0]), dim=0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.conv.weight.view(self.conv.weight.shape[0], -1)
        with torch.no_grad():
            v = F.normalize(w.t() @ self.u, dim=0)
            self.u.copy_(F.normalize(w @ v, dim=0))
        sigma = self.u @ w @ v
        return F.conv2d(x, self.conv.weight / sigma, self.conv.bias, padding=1)


class SpectralNormEval(_Base):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(PowerIterationSN(nn.Conv2d(16, 8, 3, padding=1)), nn.ReLU())


def spectral_norm_eval() -> SpectralNormEval:
    return SpectralNormEval()


class TakesDepth(nn.Module):
    """ProGAN's signature: forward(x, depth, alpha), no default for depth."""

    z_dim = 8

    def __init__(self) -> None:
        super().__init__()
        self.inner = _Base()

    def forward(self, z: torch.Tensor, depth: int, alpha: float = 1.0) -> torch.Tensor:
        return self.inner(z)


def takes_depth() -> TakesDepth:
    return TakesDepth()


class OldTorchAPI(_Base):
    """Code written for another torch: it calls a function this torch does not have."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.upsample_bilinear_removed(self.features(z), scale_factor=4)  # type: ignore[attr-defined]


def old_torch_api() -> OldTorchAPI:
    return OldTorchAPI()


class HoldsScript(nn.Module):
    """A wrapper around a traced (TorchScript) generator, as exported checkpoints come."""

    z_dim = 8

    def __init__(self) -> None:
        super().__init__()
        self.net = torch.jit.trace(_Base(), torch.zeros(2, 8))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def holds_script() -> HoldsScript:
    return HoldsScript()


def traced() -> torch.jit.ScriptModule:
    return torch.jit.trace(_Base(), torch.zeros(2, 8))


class ImagesElsewhere(_Base):
    """Returns its images on another device than its inputs' (here: meta, without data)."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return super().forward(z).to("meta")


def images_elsewhere() -> ImagesElsewhere:
    return ImagesElsewhere()


def meta_weights() -> _Base:
    with torch.device("meta"):
        return _Base()


class Unbounded(_Base):
    """Images not squashed into [-1, 1] (ProGAN's output; its own scripts clamp on saving)."""

    def __init__(self, gain: float) -> None:
        super().__init__()
        self.gain = gain

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.body(F.interpolate(self.features(z), scale_factor=4))
        return self.gain * torch.tanh(self.to_rgb(x) * 4)


def unbounded(gain: float) -> Unbounded:
    """A factory that needs an argument (``--generator-arg gain=3``)."""
    return Unbounded(gain)


class VeryWide(_Base):
    """Panorama images of 32 x 3,456 px: a row of five tiles is wider than WebP allows."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 16 * 2 * 216)

    def features(self, z: torch.Tensor) -> torch.Tensor:
        return self.fc(z).view(-1, 16, 2, 216)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.body(F.interpolate(self.features(z), scale_factor=2))
        return torch.tanh(F.interpolate(self.to_rgb(x), scale_factor=8))


def very_wide() -> VeryWide:
    return VeryWide()


def batch_stats() -> BatchStats:
    return BatchStats()


def channels_last() -> ChannelsLast:
    return ChannelsLast()


def zero_one() -> ZeroOne:
    return ZeroOne()


def tutorial_dcgan() -> TutorialDCGAN:
    return TutorialDCGAN()


def nan_unit() -> NaNUnit:
    return NaNUnit()


def plain() -> _Base:
    return _Base()
