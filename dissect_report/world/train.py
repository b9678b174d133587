"""Train the built-in world's segmenter and GAN from scratch, seeded and resumable.

Usage::

    from dissect_report.world.train import TrainConfig, train_world
    train_world(TrainConfig(out="runs/world", device="cuda"))

or ``dissect-report world train --out runs/world``. Writes ``segmenter.safetensors``,
``generator.safetensors``, ``discriminator.safetensors`` and ``world.json`` (architectures,
training settings), the format :mod:`dissect_report.world.weights` loads. Checkpoints
(``ckpt-*.pt``, plain tensors, loaded with ``weights_only=True``) are written every
``checkpoint_every`` steps; a rerun with the same settings resumes from them. Minibatch
order is a pure function of ``(seed, step)``, so a resumed run sees the same data.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from dissect_report.progress import bar
from dissect_report.world.nets import Discriminator, Generator, SegNet
from dissect_report.world.scenes import CONCEPTS, render_dataset

log = logging.getLogger(__name__)

TRAIN_DATA_OFFSET = 1_000_000  # world seed of training scenes = seed + offset
EVAL_DATA_OFFSET = 2_000_000  # fresh scenes for the model card


@dataclass(frozen=True)
class TrainConfig:
    out: str = "runs/world"
    seed: int = 0
    device: str = "cpu"
    scenes: int = 60_000
    seg_steps: int = 4_000
    seg_batch: int = 128
    seg_lr: float = 2e-3
    gan_steps: int = 12_000
    gan_batch: int = 128
    gan_lr: float = 2e-4
    ema_decay: float = 0.999
    z_dim: int = 128
    checkpoint_every: int = 1_000
    bn_batches: int = 64  # latent batches that set the generator's BatchNorm statistics
    bn_batch: int = 256
    stop_after: int | None = None  # stop each part after this step, as a kill would (tests)
    workers: int = 0  # processes rendering the data set; 0 = all cores


def _batch_ids(seed: int, step: int, n: int, batch: int, salt: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed * 1_000_003 + step * 7 + salt)
    return torch.randint(0, n, (batch,), generator=g)


def _to_float(images: torch.Tensor) -> torch.Tensor:
    return images.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Blur, noise and color jitter so the segmenter also reads softer generated images."""
    n, dev = x.shape[0], x.device

    def r(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=g, device=dev)

    k = torch.tensor([1.0, 2.0, 1.0], device=dev)
    k = (k[:, None] * k[None, :] / 16).expand(3, 1, 3, 3)
    blurred = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k, groups=3)
    a = r(n, 1, 1, 1) * (r(n, 1, 1, 1) < 0.5)
    x = x * (1 - a) + blurred * a
    x = x * (1 + 0.2 * (r(n, 3, 1, 1) - 0.5)) + 0.2 * (r(n, 1, 1, 1) - 0.5)
    x = x + torch.randn(x.shape, generator=g, device=dev) * 0.06 * r(n, 1, 1, 1)
    return x.clamp(-1, 1)


def _save_ckpt(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _load_ckpt(path: Path) -> dict | None:
    return torch.load(path, map_location="cpu", weights_only=True) if path.exists() else None


def _save_weights(module: torch.nn.Module, path: Path) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    tmp = path.with_suffix(".tmp")
    save_file(state, str(tmp))
    os.chmod(tmp, 0o644)  # package data must be readable by every user
    os.replace(tmp, path)


def train_segmenter(cfg: TrainConfig, images: torch.Tensor, labels: torch.Tensor) -> SegNet:
    """Weighted cross-entropy on augmented scenes, cosine learning-rate decay."""
    dev, out = torch.device(cfg.device), Path(cfg.out)
    torch.manual_seed(cfg.seed)
    net = SegNet(len(CONCEPTS)).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.seg_lr)
    freq = torch.bincount(labels[:2000].flatten().long(), minlength=len(CONCEPTS)).float() + 1
    weight = (freq / freq.sum()).pow(-0.3)
    weight = (weight / weight.mean()).to(dev)
    start = 0
    if (ck := _load_ckpt(out / "ckpt-seg.pt")) is not None:
        net.load_state_dict(ck["net"])
        opt.load_state_dict(ck["opt"])
        start = int(ck["step"])
    sched = lambda step: cfg.seg_lr * 0.5 * (1 + math.cos(math.pi * step / cfg.seg_steps))  # noqa: E731
    net.train()
    for step in bar(
        range(start, cfg.seg_steps), initial=start, total=cfg.seg_steps, desc="segmenter"
    ):
        if cfg.stop_after is not None and step >= cfg.stop_after:
            return net.eval()
        ids = _batch_ids(cfg.seed, step, len(images), cfg.seg_batch, salt=1)
        g = torch.Generator(device=dev).manual_seed(cfg.seed * 7919 + step)
        x = _augment(_to_float(images[ids].to(dev)), g)
        y = labels[ids].to(dev).long()
        if step % 2:
            x, y = x.flip(-1), y.flip(-1)
        for group in opt.param_groups:
            group["lr"] = sched(step)
        loss = F.cross_entropy(net(x), y, weight=weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.seg_steps:
            _save_ckpt(
                out / "ckpt-seg.pt",
                {"net": net.state_dict(), "opt": opt.state_dict(), "step": step + 1},
            )
            log.info("segmenter step %d loss %.4f", step + 1, loss.item())
    return net.eval()


@torch.no_grad()
def _ema_update(ema: torch.nn.Module, net: torch.nn.Module, decay: float) -> None:
    for pe, p in zip(ema.parameters(), net.parameters(), strict=True):
        pe.lerp_(p, 1 - decay)
    for be, b in zip(ema.buffers(), net.buffers(), strict=True):
        be.copy_(b)


@torch.no_grad()
def recalibrate_batchnorm(gen: Generator, seed: int, batches: int = 64, batch: int = 256) -> None:
    """Set BatchNorm running stats to exact averages over fresh latents (eval = train stats)."""
    dev = next(gen.parameters()).device
    for m in gen.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
    gen.train()
    g = torch.Generator().manual_seed(seed)
    for _ in range(batches):
        gen(torch.randn(batch, gen.z_dim, generator=g).to(dev))
    gen.eval()


def train_gan(cfg: TrainConfig, images: torch.Tensor) -> tuple[Generator, Discriminator]:
    """Hinge-loss GAN with a spectrally normalized discriminator and an EMA generator."""
    dev, out = torch.device(cfg.device), Path(cfg.out)
    torch.manual_seed(cfg.seed + 1)
    gen, disc = Generator(cfg.z_dim).to(dev), Discriminator().to(dev)
    ema = copy.deepcopy(gen).eval()
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg.gan_lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.gan_lr, betas=(0.5, 0.999))
    start = 0
    if (ck := _load_ckpt(out / "ckpt-gan.pt")) is not None:
        gen.load_state_dict(ck["gen"])
        disc.load_state_dict(ck["disc"])
        ema.load_state_dict(ck["ema"])
        opt_g.load_state_dict(ck["opt_g"])
        opt_d.load_state_dict(ck["opt_d"])
        start = int(ck["step"])
    gen.train()
    disc.train()
    for step in bar(range(start, cfg.gan_steps), initial=start, total=cfg.gan_steps, desc="gan"):
        if cfg.stop_after is not None and step >= cfg.stop_after:
            return ema, disc.eval()
        g = torch.Generator(device=dev).manual_seed(cfg.seed * 104_729 + step)
        real = _to_float(
            images[_batch_ids(cfg.seed, step, len(images), cfg.gan_batch, salt=2)].to(dev)
        )
        if step % 2:
            real = real.flip(-1)
        z = torch.randn(cfg.gan_batch, cfg.z_dim, generator=g, device=dev)
        fake = gen(z)
        loss_d = F.relu(1 - disc(real)).mean() + F.relu(1 + disc(fake.detach())).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = -disc(fake).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        _ema_update(ema, gen, cfg.ema_decay if step > 500 else 0.0)
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.gan_steps:
            _save_ckpt(
                out / "ckpt-gan.pt",
                {
                    "gen": gen.state_dict(),
                    "disc": disc.state_dict(),
                    "ema": ema.state_dict(),
                    "opt_g": opt_g.state_dict(),
                    "opt_d": opt_d.state_dict(),
                    "step": step + 1,
                },
            )
            log.info("gan step %d loss_d %.3f loss_g %.3f", step + 1, loss_d.item(), loss_g.item())
    recalibrate_batchnorm(ema, cfg.seed + 2, cfg.bn_batches, cfg.bn_batch)
    return ema, disc.eval()


def train_world(cfg: TrainConfig, parts: tuple[str, ...] = ("segmenter", "gan")) -> Path:
    """Render the training scenes, train the requested parts, write the weights into ``cfg.out``."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    np_images, np_labels = render_dataset(cfg.seed + TRAIN_DATA_OFFSET, cfg.scenes, cfg.workers)
    images, labels = torch.from_numpy(np_images), torch.from_numpy(np_labels)
    if cfg.device.startswith("cuda"):
        images, labels = images.to(cfg.device), labels.to(cfg.device)
    timings = {"render_s": time.perf_counter() - t0}
    if "segmenter" in parts:
        t = time.perf_counter()
        _save_weights(train_segmenter(cfg, images, labels), out / "segmenter.safetensors")
        timings["segmenter_s"] = time.perf_counter() - t
    if "gan" in parts:
        t = time.perf_counter()
        gen, disc = train_gan(cfg, images)
        _save_weights(gen, out / "generator.safetensors")
        _save_weights(disc, out / "discriminator.safetensors")
        timings["gan_s"] = time.perf_counter() - t
    meta = {
        "concepts": CONCEPTS,
        "z_dim": cfg.z_dim,
        "train": asdict(cfg),
        "timings": timings,
        "torch": torch.__version__,
    }
    (out / "world.json").write_text(json.dumps(meta, indent=2))
    return out
