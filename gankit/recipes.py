"""Named recipes: each is a few lines of config over the one engine.

A recipe only overrides config keys; anything it leaves out keeps the typed default from
``gankit.config``. The conditional recipes and InfoGAN use DCGAN networks at width 32 (half the DCGAN
default): 28-px digits need no more, and it halves their CPU cost.
Layering is defaults < recipe < config file < command-line overrides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gankit.registry import Registry


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    paper: str
    overrides: dict[str, Any] = field(default_factory=dict)  # nested, as in a config file

    @property
    def task(self) -> str:
        """The task the recipe trains (``gan`` unless it says otherwise)."""
        return self.overrides.get("task", {}).get("name", "gan")


RECIPES: Registry[Recipe] = Registry("recipe")
DEFAULT_RECIPE = "dcgan-fast"  # what `gankit train` runs with no --recipe: unconditional, so any image data works


def recipe(name: str, description: str, paper: str, **sections: dict[str, Any]) -> Recipe:
    r = Recipe(name, description, paper, sections)
    RECIPES.add(name, r, description)
    return r


recipe(
    "mlp-gan",
    "fully connected GAN with BCE loss, the classic MNIST tutorial (G 100-256-512-1024-784, D 784-1024-512-256-1)",
    "Goodfellow et al. 2014, Generative Adversarial Nets",
    model={"generator": "mlp", "discriminator": "mlp", "z_dim": 100},
    loss={"name": "bce", "g_form": "non-saturating"},
    optim={"name": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999},
    train={"batch_size": 128, "steps": 3000},
)

recipe(
    "dcgan",
    "deep convolutional GAN: strided convs, BatchNorm, LeakyReLU D, N(0, 0.02) init, Adam(2e-4, 0.5)",
    "Radford et al. 2016, Unsupervised Representation Learning with DCGANs",
    model={"generator": "dcgan", "discriminator": "dcgan", "z_dim": 100, "width": 64},
    loss={"name": "bce", "g_form": "non-saturating"},
    optim={"name": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999},
    train={"batch_size": 128, "steps": 1500},
)

recipe(
    "wgan",
    "Wasserstein critic with weight clipping c=0.01, n_critic=5, RMSprop 5e-5, DCGAN networks",
    "Arjovsky et al. 2017, Wasserstein GAN",
    model={"generator": "dcgan", "discriminator": "dcgan", "d_norm": "batch"},
    loss={"name": "wgan"},
    optim={"name": "rmsprop", "lr_g": 5e-5, "lr_d": 5e-5, "n_critic": 5},
    reg={"weight_clip": 0.01},
    train={"batch_size": 64, "steps": 1000},
)

recipe(
    "wgan-gp",
    "Wasserstein critic with gradient penalty lambda=10, n_critic=5, Adam(1e-4, 0.0, 0.9), layer-norm critic",
    "Gulrajani et al. 2017, Improved Training of Wasserstein GANs",
    model={"generator": "dcgan", "discriminator": "dcgan", "d_norm": "layer"},
    loss={"name": "wgan"},
    optim={"name": "adam", "lr_g": 1e-4, "lr_d": 1e-4, "beta1": 0.0, "beta2": 0.9, "n_critic": 5},
    reg={"gp_weight": 10.0},
    train={"batch_size": 64, "steps": 1000},
)

recipe(
    "lsgan",
    "least-squares loss (a=0, b=1, c=1) on DCGAN networks, Adam(2e-4, 0.5)",
    "Mao et al. 2017, Least Squares Generative Adversarial Networks",
    model={"generator": "dcgan", "discriminator": "dcgan"},
    loss={"name": "lsgan"},
    optim={"name": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999},
    train={"batch_size": 64, "steps": 1500},
)

recipe(
    "hinge",
    "hinge loss with a spectrally normalised DCGAN discriminator (no BatchNorm), Adam(2e-4, 0.5)",
    "Lim & Ye 2017, Geometric GAN; Miyato et al. 2018 (standard CNN)",
    model={"generator": "dcgan", "discriminator": "dcgan", "d_norm": "none", "spectral_norm": True},
    loss={"name": "hinge"},
    optim={"name": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999},
    train={"batch_size": 64, "steps": 1500},
)

recipe(
    "sngan",
    "SNGAN: ResNet G/D, spectral norm, hinge loss, n_critic=5, Adam(2e-4, 0.0, 0.9); 32 px, channels 64/32 (paper 256/128)",
    "Miyato et al. 2018, Spectral Normalization for GANs",
    data={"resolution": 32},
    model={"generator": "resnet", "discriminator": "resnet", "spectral_norm": True, "z_dim": 128, "width": 16},
    loss={"name": "hinge"},
    optim={"name": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.0, "beta2": 0.9, "n_critic": 5},
    train={"batch_size": 64, "steps": 1000},
)

recipe(
    "cgan",
    "conditional DCGAN: one-hot label concatenated to z and as label maps to D's input, BCE",
    "Mirza & Osindero 2014, Conditional Generative Adversarial Nets",
    model={"generator": "dcgan", "discriminator": "dcgan", "conditional": True, "conditioning": "onehot", "width": 32},
    loss={"name": "bce"},
    optim={"name": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999},
    ema={"enabled": True, "half_life": 10000.0},
    # >= 90 % of `--class k` samples are class k on MNIST: 91.4 / 91.9 / 89.0 % at 4000 steps (seeds 0-2),
    # 95.7 % at 7399 (the 10-minute time-to-quality run); docs/recipes.md
    train={"batch_size": 64, "steps": 8000},
)

recipe(
    "projection-cgan",
    "projection discriminator (spectral norm, hinge) with a label-embedding DCGAN generator",
    "Miyato & Koyama 2018, cGANs with Projection Discriminator",
    model={"generator": "dcgan", "discriminator": "dcgan", "conditional": True, "conditioning": "projection",
           "d_norm": "none", "spectral_norm": True, "width": 32},
    loss={"name": "hinge"},
    optim={"name": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999},
    ema={"enabled": True, "half_life": 10000.0},
    # 4000 steps: >= 90 % of `--class k` samples are class k on MNIST (docs/recipes.md, issue 4)
    train={"batch_size": 64, "steps": 4000},
)

ACGAN = recipe(
    "acgan",
    "auxiliary-classifier GAN: D predicts real/fake and the class; one-hot conditioned DCGAN generator",
    "Odena et al. 2017, Conditional Image Synthesis with Auxiliary Classifier GANs",
    model={"generator": "dcgan", "discriminator": "dcgan", "conditional": True, "conditioning": "acgan", "width": 32},
    loss={"name": "acgan", "adversarial": "bce", "aux_weight": 1.0},
    optim={"name": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999},
    ema={"enabled": True, "half_life": 10000.0},
    # >= 90 % of `--class k` samples are class k on MNIST only after about 8000 steps: 87.7 % at 4000 steps,
    # 93.6 % at 8775 (the 10-minute time-to-quality run); docs/recipes.md
    train={"batch_size": 64, "steps": 8000},
)

recipe(
    "infogan",
    "InfoGAN: 62-d noise + one 10-way categorical and two U(-1,1) codes recovered by a Q head on D",
    "Chen et al. 2016, InfoGAN",
    model={"generator": "dcgan", "discriminator": "dcgan", "z_dim": 62, "info_categories": 10,
           "info_continuous": 2, "width": 32},
    loss={"name": "infogan", "adversarial": "bce", "aux_weight": 1.0, "info_continuous_weight": 0.1},
    optim={"name": "adam", "lr_g": 1e-3, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999},
    train={"batch_size": 64, "steps": 1500},
)

recipe(
    "mnist-fast",
    "the fastest start on MNIST on CPU (lowest FID of every recipe over the first 2 minutes of python -m bench "
    "ttq; from 4 minutes on projection-cgan is lower): ACGAN at width 32, batch 64, Adam 4e-4, EMA of G "
    "(half-life 5k images), channels_last and bf16 autocast where the CPU/GPU has it",
    "Odena et al. 2017 (ACGAN); Karras et al. 2018 (EMA of G); choice measured in docs/performance.md",
    model=dict(ACGAN.overrides["model"]),  # the acgan recipe's networks and loss, trained faster
    loss=dict(ACGAN.overrides["loss"]),
    optim={"name": "adam", "lr_g": 4e-4, "lr_d": 4e-4, "beta1": 0.5, "beta2": 0.999},
    ema={"enabled": True, "half_life": 5000.0},
    perf={"channels_last": True, "autocast": "auto"},
    train={"batch_size": 64, "steps": 5000},
)


recipe(
    "dcgan-fast",
    "the default: DCGAN at width 32 with EMA of G (half-life 5k images), Adam 4e-4, channels_last and bf16 "
    "autocast where the CPU/GPU has it; unconditional, so it trains on any images",
    "Radford et al. 2016 (DCGAN); Karras et al. 2018 (EMA of G); round 2 of the recipe search in "
    "docs/performance.md",
    model={"generator": "dcgan", "discriminator": "dcgan", "z_dim": 100, "width": 32},
    loss={"name": "bce", "g_form": "non-saturating"},
    optim={"name": "adam", "lr_g": 4e-4, "lr_d": 4e-4, "beta1": 0.5, "beta2": 0.999},
    ema={"enabled": True, "half_life": 5000.0},
    perf={"channels_last": True, "autocast": "auto"},
    # 2000 steps when no stopping rule is given: the README's default job (digits) in a few minutes
    train={"batch_size": 128, "steps": 2000},
)


# Image-to-image (issue 14): the pix2pix task with a degradation computed on the fly from any image source.
# U-Net and PatchGAN at width 16 and batch 32 (a step in 0.3 s on one CPU thread; width 32 costs 3x),
# Adam(2e-4, 0.5) as the paper; no collapse watch (the grid's inputs are fixed images, not latents).
def _pix2pix(name: str, what: str, data: dict[str, Any] | None = None, **task: Any) -> Recipe:
    return recipe(
        name, what, "Isola et al. 2017, Image-to-Image Translation with Conditional Adversarial Networks",
        task={"name": "pix2pix", **task},
        **({"data": data} if data else {}),
        model={"width": 16},
        optim={"name": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999},
        guard={"collapse_ratio": 0.0},
        train={"batch_size": 32, "steps": 3000},
    )


_pix2pix("pix2pix-superres", "pix2pix x4 super-resolution (task.scale 2 or 4): the mean of each 4x4 block -> "
         "the image; U-Net G, PatchGAN D, L1 (100) + adversarial", degradation="superres", scale=4)
_pix2pix("pix2pix-inpaint", "pix2pix inpainting: random boxes, strokes and centre squares (task.holes) with the "
         "mask as an input channel; known pixels kept", degradation="inpaint")
_pix2pix("pix2pix-denoise", "pix2pix denoising of additive Gaussian noise, sigma 50 of 255 (task.sigma)",
         degradation="denoise", sigma=50.0)
_pix2pix("pix2pix-colorize", "pix2pix colorization: BT.601 luma -> RGB; needs RGB images (default: the "
         "photos dataset, patches of scikit-learn's sample photographs)", data={"name": "photos"}, degradation="colorize")


# Semi-supervised classification (issue 15): the ssgan task, with a labelled subset from data.labels_per_class.
recipe(
    "ssgan",
    "semi-supervised classifier from few labels: D has K classes + fake (logit-sum trick), cross-entropy on the "
    "labelled images, real/fake on the rest, feature matching for G; use with --set data.labels_per_class=10 and "
    "gankit classify",
    "Salimans et al. 2016, Improved Techniques for Training GANs (section 5)",
    task={"name": "ssgan"},
    model={"generator": "dcgan", "discriminator": "dcgan", "z_dim": 100, "width": 32, "d_norm": "none"},
    optim={"name": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999},
    train={"batch_size": 64, "steps": 3000},
)
