"""A generator of your own for gankit: any nn.Module built as (model config, image shape, classes)."""

from torch import nn


class TinyGenerator(nn.Module):
    """z -> two fully connected layers -> an image in [-1, 1]."""

    def __init__(self, cfg, shape, num_classes=0):
        super().__init__()
        channels, height, width = self.shape = shape
        self.net = nn.Sequential(
            nn.Linear(cfg.z_dim, 256), nn.LeakyReLU(0.2),
            nn.Linear(256, channels * height * width), nn.Tanh(),
        )

    def forward(self, z, y=None):  # y: class labels, unused by an unconditional generator
        return self.net(z).view(len(z), *self.shape)
