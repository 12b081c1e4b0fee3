"""The fanogan task: izi_f residuals by their definition, the frozen G and D stay frozen."""

import torch
from torch import nn

from gankit.tasks.fanogan import Encoder, anomaly_scores, izi_f_residuals


class Body(nn.Module):
    def forward(self, x):
        return x.flatten(1)[:, :5] * 2.0  # (B, 5) "features"


class D(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = Body()


def test_residuals_follow_the_izi_f_definition():
    torch.manual_seed(0)
    E = Encoder((1, 28, 28), 4, 3)
    G = nn.Sequential(nn.Linear(3, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))
    x = torch.rand(6, 1, 28, 28) * 2 - 1
    image_res, feature_res = izi_f_residuals(G, D(), E, x)
    recon = G(E(x))
    assert torch.allclose(image_res, ((x - recon) ** 2).sum((1, 2, 3)) / 784)  # 1/n ||x - G(E(x))||^2
    f_x, f_r = x.flatten(1)[:, :5] * 2, recon.flatten(1)[:, :5] * 2
    assert torch.allclose(feature_res, ((f_x - f_r) ** 2).sum(1) / 5)  # 1/n_d ||f(x) - f(G(E(x)))||^2
    scores = anomaly_scores(G, D(), E, x, kappa=0.5, batch_size=4)  # batches of 4 and 2: per image, no batch effect
    E.eval()
    image_res, feature_res = izi_f_residuals(G, D(), E, x)
    assert torch.allclose(scores, (image_res + 0.5 * feature_res).detach())


def test_encoder_maps_images_to_latents():
    assert Encoder((1, 28, 28), 8, 16)(torch.zeros(2, 1, 28, 28)).shape == (2, 16)
