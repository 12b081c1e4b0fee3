"""Plain-PyTorch GAN loops written the way the classic tutorials write them: the baselines of the bench.

The MLP GAN follows the PyTorch-GAN / "GAN in 50 lines" MNIST tutorials, the DCGAN follows the official
PyTorch DCGAN tutorial (pytorch.org/tutorials/beginner/dcgan_faces_tutorial), shrunk to 28 px the way
MNIST ports of it do (7x7 -> 14x14 -> 28x28). The networks are the same as gankit's ``mlp`` and
``dcgan`` models (same layers, widths and parameter count; ``tests/bench`` checks the count) so that
images/s compare equal work. What makes them "tutorial style", on purpose:

- D ends in ``nn.Sigmoid`` and the loss is ``nn.BCELoss`` on probabilities;
- every batch builds fresh label tensors with ``torch.ones``/``torch.zeros``;
- ``optimizer.zero_grad()`` then ``loss.backward()`` then ``optimizer.step()``, default Adam (no fused or
  foreach kernels on CPU), fp32, default memory format, default threads;
- the fake batch of the D step is reused (``fake.detach()``) for the G step, as the DCGAN tutorial does;
- ``loss.item()`` every step, appended to a Python list for the loss plot;
- the data set lives in memory as one normalised float tensor, shuffled every epoch with ``randperm``.
"""

from __future__ import annotations

import time

import torch
from torch import nn

Z_DIM = 100


def mlp_generator(shape: tuple[int, int, int]) -> nn.Module:
    c, h, w = shape
    return nn.Sequential(
        nn.Linear(Z_DIM, 256), nn.ReLU(True),
        nn.Linear(256, 512), nn.ReLU(True),
        nn.Linear(512, 1024), nn.ReLU(True),
        nn.Linear(1024, c * h * w), nn.Tanh(),
        nn.Unflatten(1, shape),
    )


def mlp_discriminator(shape: tuple[int, int, int]) -> nn.Module:
    c, h, w = shape
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(c * h * w, 1024), nn.LeakyReLU(0.2, True), nn.Dropout(0.3),
        nn.Linear(1024, 512), nn.LeakyReLU(0.2, True), nn.Dropout(0.3),
        nn.Linear(512, 256), nn.LeakyReLU(0.2, True), nn.Dropout(0.3),
        nn.Linear(256, 1), nn.Sigmoid(),
    )


def dcgan_generator(shape: tuple[int, int, int], ngf: int = 64) -> nn.Module:
    c = shape[0]
    return nn.Sequential(
        nn.Unflatten(1, (Z_DIM, 1, 1)),
        nn.ConvTranspose2d(Z_DIM, ngf * 2, 7, 1, 0, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),  # 7x7
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),  # 14x14
        nn.ConvTranspose2d(ngf, c, 4, 2, 1), nn.Tanh(),  # 28x28
    )


def dcgan_discriminator(shape: tuple[int, int, int], ndf: int = 64) -> nn.Module:
    c = shape[0]
    return nn.Sequential(
        nn.Conv2d(c, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True),  # 14x14
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, True),  # 7x7
        nn.Flatten(), nn.Linear(ndf * 2 * 7 * 7, 1), nn.Sigmoid(),
    )


def weights_init(m: nn.Module) -> None:
    """The DCGAN tutorial's custom init: N(0, 0.02) conv weights, N(1, 0.02) BatchNorm scales."""
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


ARCHS = {"mlp-gan": (mlp_generator, mlp_discriminator), "dcgan": (dcgan_generator, dcgan_discriminator)}


class TutorialGAN:
    """One tutorial training loop, steppable so the bench can time it batch by batch.

    ``images``: uint8 (N, C, H, W) as gankit's datasets hold them; converted once to floats in [-1, 1]
    (what ``transforms.Normalize((0.5,), (0.5,))`` gives).
    """

    def __init__(self, arch: str, images: torch.Tensor, batch_size: int = 128, lr: float = 2e-4,
                 seed: int = 0):
        if arch not in ARCHS:
            raise ValueError(f"unknown tutorial architecture {arch!r}; choose from {sorted(ARCHS)}")
        if arch == "dcgan" and tuple(images.shape[2:]) != (28, 28):
            raise ValueError("the tutorial DCGAN is written for 28x28 images")
        torch.manual_seed(seed)
        self.arch = arch
        shape = tuple(images.shape[1:])
        make_g, make_d = ARCHS[arch]
        self.netG, self.netD = make_g(shape), make_d(shape)
        if arch == "dcgan":
            self.netG.apply(weights_init)
            self.netD.apply(weights_init)
        self.criterion = nn.BCELoss()
        self.optimizerD = torch.optim.Adam(self.netD.parameters(), lr=lr, betas=(0.5, 0.999))
        self.optimizerG = torch.optim.Adam(self.netG.parameters(), lr=lr, betas=(0.5, 0.999))
        self.data = images.float() / 127.5 - 1.0
        self.batch_size = batch_size
        self.perm = torch.randperm(len(self.data))
        self.i = 0
        self.G_losses: list[float] = []
        self.D_losses: list[float] = []
        self.steps = 0
        self.elapsed = 0.0  # training seconds (the bench pauses the clock while it evaluates)

    def next_batch(self) -> torch.Tensor:
        if self.i + self.batch_size > len(self.data):
            self.perm = torch.randperm(len(self.data))
            self.i = 0
        real = self.data[self.perm[self.i : self.i + self.batch_size]]
        self.i += self.batch_size
        return real

    def step(self) -> None:
        netG, netD, criterion = self.netG, self.netD, self.criterion
        netG.train()
        netD.train()
        real = self.next_batch()
        b = real.size(0)
        real_label = torch.ones(b, 1)
        fake_label = torch.zeros(b, 1)

        # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
        self.optimizerD.zero_grad()
        errD_real = criterion(netD(real), real_label)
        noise = torch.randn(b, Z_DIM)
        fake = netG(noise)
        errD_fake = criterion(netD(fake.detach()), fake_label)
        errD = errD_real + errD_fake
        errD.backward()
        self.optimizerD.step()

        # (2) Update G: maximize log(D(G(z)))
        self.optimizerG.zero_grad()
        errG = criterion(netD(fake), real_label)
        errG.backward()
        self.optimizerG.step()

        self.G_losses.append(errG.item())
        self.D_losses.append(errD.item())
        self.steps += 1

    def train_for(self, seconds: float) -> None:
        """Step until this loop's own training clock has advanced by ``seconds``."""
        stop = self.elapsed + seconds
        while self.elapsed < stop:
            t = time.perf_counter()
            self.step()
            self.elapsed += time.perf_counter() - t

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, batch_size: int = 500) -> torch.Tensor:
        """(n, C, H, W) in [-1, 1] from G in eval mode, as gankit's ``Run.sample``."""
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(n, Z_DIM, generator=gen)
        self.netG.eval()
        out = torch.cat([self.netG(z[i : i + batch_size]) for i in range(0, n, batch_size)])
        self.netG.train()
        return out
