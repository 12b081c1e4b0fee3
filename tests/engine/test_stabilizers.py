"""Stabilizers wired from the config: each one observed doing what it claims inside real training steps."""

import pytest
import torch

from gankit.data import ImageDataset
from gankit.engine.trainer import Trainer
from gankit.errors import ConfigError
from gankit.tasks.stabilizers import Augment, R1Penalty, diff_augment, rand_cutout, rand_translation


def test_weight_clipping_holds_the_bound(tiny_config):
    tr = Trainer(tiny_config(recipe="wgan", steps=2))
    tr.train_step()
    params = torch.cat([p.detach().flatten() for p in tr.task.D.parameters()])
    assert params.abs().max() <= 0.01 + 1e-9
    assert (params.abs() > 0.0099).float().mean() > 0.1  # the clip is active, not vacuous


def test_ema_follows_the_half_life_and_tracks_batchnorm_buffers(tiny_config):
    cfg = tiny_config(**{"ema.enabled": True, "ema.half_life": 160})
    cfg.ema.rampup = None  # (a None override means "not given")
    tr = Trainer(cfg)
    assert tr.sampling_networks()["G"] is tr.networks["G_ema"] and "G_ema" in tr.networks
    beta = 0.5 ** (16 / 160)  # batch 16
    old_p = [p.clone() for p in tr.networks["G_ema"].parameters()]
    old_b = [b.clone() for b in tr.networks["G_ema"].buffers()]
    tr.train_step()
    for p_ema, p_old, p in zip(tr.networks["G_ema"].parameters(), old_p, tr.task.G.parameters()):
        torch.testing.assert_close(p_ema, beta * p_old + (1 - beta) * p)
    float_bufs = [(b_ema, b_old, b) for b_ema, b_old, b in zip(tr.networks["G_ema"].buffers(), old_b, tr.task.G.buffers())
                  if b.is_floating_point()]
    assert float_bufs  # DCGAN's G has BatchNorm running statistics
    for b_ema, b_old, b in float_bufs:
        torch.testing.assert_close(b_ema, beta * b_old + (1 - beta) * b)
    assert any(not torch.equal(b_ema, b_old) for b_ema, b_old, _ in float_bufs)
    assert not any(p.requires_grad for p in tr.networks["G_ema"].parameters())


def test_ema_decay_and_start(tiny_config):
    tr = Trainer(tiny_config(**{"ema.enabled": True, "ema.decay": 0.9, "ema.start": 1}))
    tr.train_step()  # step 0 < start: a plain copy
    for p_ema, p in zip(tr.networks["G_ema"].parameters(), tr.task.G.parameters()):
        torch.testing.assert_close(p_ema, p)
    old = [p.clone() for p in tr.networks["G_ema"].parameters()]
    tr.train_step()
    for p_ema, p_old, p in zip(tr.networks["G_ema"].parameters(), old, tr.task.G.parameters()):
        torch.testing.assert_close(p_ema, 0.9 * p_old + 0.1 * p)


def test_ema_rampup_caps_the_half_life_by_the_images_seen():
    from gankit.engine.ema import EMA

    ema = EMA(torch.nn.Linear(2, 2), half_life=10_000, decay=None, batch_size=64, rampup=0.05)
    assert ema.beta(0) == pytest.approx(0.5 ** (64 / (0.05 * 64)))  # about 1e-6: a young EMA is nearly G
    assert ema.beta(99) == pytest.approx(0.5 ** (64 / (0.05 * 6400)))  # half-life 320 images after 100 steps
    assert ema.beta(10_000) == pytest.approx(0.5 ** (64 / 10_000))  # past 200k images: the full half-life
    assert [ema.beta(s) for s in (0, 10, 100, 1000)] == sorted(ema.beta(s) for s in (0, 10, 100, 1000))
    no_ramp = EMA(torch.nn.Linear(2, 2), half_life=10_000, decay=None, batch_size=64, rampup=None)
    assert no_ramp.beta(0) == pytest.approx(0.5 ** (64 / 10_000))


def test_ema_with_rampup_tracks_a_young_generator(tiny_config):
    # after a few steps the ramped EMA is close to G, the unramped one still close to the initial G
    dist = {}
    for rampup in (0.05, None):
        cfg = tiny_config(**{"ema.enabled": True, "ema.half_life": 10_000})
        cfg.ema.rampup = rampup
        tr = Trainer(cfg)
        init = [p.clone() for p in tr.task.G.parameters()]
        for _ in range(5):
            tr.train_step()
        dist[rampup] = sum((pe - p).norm() for pe, p in zip(tr.networks["G_ema"].parameters(), tr.task.G.parameters())).item()
        moved = sum((p - p0).norm() for p, p0 in zip(tr.task.G.parameters(), init)).item()
        assert moved > 0
    assert dist[0.05] < 0.25 * dist[None]


def test_augment_reaches_every_discriminator_input(tiny_config):
    tr = Trainer(tiny_config(recipe="wgan", **{"augment.policy": "color,translation,cutout"}))
    calls = []
    inner = tr.task.augment
    tr.task.augment = lambda x, progress: calls.append(x.shape) or inner(x, progress)
    tr.train_step()
    # n_critic=5 D steps see augmented real and fake, then the G step sees augmented fakes
    assert len(calls) == 2 * 5 + 1


def test_translation_moves_content_and_cutout_blanks_a_square():
    torch.manual_seed(0)
    x = torch.zeros(256, 1, 16, 16)
    x[:, :, 8, 8] = 1.0
    moved = rand_translation(x)
    pos = moved.flatten(1).argmax(1)
    dy, dx = pos // 16 - 8, pos % 16 - 8
    assert dy.abs().max() <= 2 and dx.abs().max() <= 2  # ratio 1/8 of 16 px
    assert (moved.flatten(1).sum(1) == 1).all()  # a centred dot never leaves the frame
    assert len(set(zip(dy.tolist(), dx.tolist()))) > 15  # per-sample shifts, not one for the batch
    cut = rand_cutout(torch.ones(256, 1, 16, 16))
    zeros = (cut == 0).flatten(1).sum(1)
    assert zeros.max() == 64 and zeros.min() > 0  # an 8x8 square, clipped at the borders


def test_diff_augment_is_differentiable():
    x = torch.randn(8, 3, 16, 16, requires_grad=True)
    diff_augment(x, ["color", "translation", "cutout"]).pow(2).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_instance_noise_anneals_to_zero(tiny_config):
    tr = Trainer(tiny_config(steps=10, **{"augment.instance_noise": 0.5}))
    assert isinstance(tr.task.augment, Augment)
    x = torch.zeros(20000)
    assert abs(tr.task.augment(x, tr.progress).std().item() - 0.5) < 0.02
    tr.step = 5
    assert abs(tr.task.augment(x, tr.progress).std().item() - 0.25) < 0.02
    tr.step = 10
    assert tr.task.augment(x, tr.progress).abs().max() == 0
    # the training step hands the augmentation the run's progress (half-way at step 5 of 10)
    tr.step, seen, inner = 5, [], tr.task.augment
    tr.task.augment = lambda x, progress: seen.append(progress) or inner(x, progress)
    tr.train_step()
    assert seen and set(seen) == {0.5}


def test_gradient_clipping_bounds_the_applied_gradients(tiny_config):
    def grad_norm(net):
        return torch.cat([p.grad.flatten() for p in net.parameters() if p.grad is not None]).norm().item()

    def record(tr):  # the norms each optimizer actually steps with (hooks run after the clip's)
        seen = {"D": [], "G": []}
        tr.task.optimizers["D"].register_step_pre_hook(lambda *_: seen["D"].append(grad_norm(tr.task.D)))
        tr.task.optimizers["G"].register_step_pre_hook(lambda *_: seen["G"].append(grad_norm(tr.task.G)))
        tr.train_step()
        return seen

    clipped = record(Trainer(tiny_config(**{"stabilize.grad_clip_d": 1e-3, "stabilize.grad_clip_g": 2e-3})))
    free = record(Trainer(tiny_config()))
    assert max(clipped["D"]) <= 1e-3 * 1.0001 and max(clipped["G"]) <= 2e-3 * 1.0001
    assert min(free["D"]) > 1e-2 and min(free["G"]) > 1e-2  # without the clip they are far larger


def test_label_smoothing_reaches_the_loss_and_refuses_losses_without_targets(tiny_config):
    tr = Trainer(tiny_config(**{"stabilize.label_smoothing": 0.1, "stabilize.label_flip": 0.05}))
    assert tr.task.loss.real_target == pytest.approx(0.9) and tr.task.loss.flip_prob == 0.05
    with pytest.raises(ConfigError, match="label_smoothing"):
        Trainer(tiny_config(recipe="hinge", **{"stabilize.label_smoothing": 0.1}))


def test_penalties_are_attached_and_r1_is_lazy(tiny_config):
    tr = Trainer(tiny_config(recipe="wgan-gp", **{"reg.r1_gamma": 2.0, "reg.r1_every": 4}))
    kinds = [type(r).__name__ for r in tr.task.regularizers]
    assert kinds == ["GradientPenalty", "R1Penalty"]
    stats = tr.train_step()
    assert all(torch.isfinite(v) for v in stats.values())
    r1 = R1Penalty(gamma=2.0, every=4)
    D = lambda x, y=None: 0.5 * x.flatten(1).pow(2).sum(1)  # gradient x: R1 = E||x||^2
    real = torch.randn(6, 1, 2, 2)
    assert r1(D, real, None, None, None, step=3) is None
    torch.testing.assert_close(r1(D, real, None, None, None, step=8), 0.5 * 2.0 * 4 * real.flatten(1).pow(2).sum(1).mean())


@pytest.mark.parametrize("overrides, match", [
    ({"loss.name": "acgan"}, "ACGAN"),
    ({"model.conditional": True, "model.conditioning": "acgan"}, "ACGAN"),
    ({"model.info_categories": 10}, "InfoGAN"),
    ({"loss.name": "infogan"}, "InfoGAN"),
])
def test_half_configured_auxiliary_gans_are_refused(overrides, match, tiny_config):
    with pytest.raises(ConfigError, match=match) as err:
        Trainer(tiny_config(**overrides))
    assert "\n" not in str(err.value)


def test_conditional_needs_labels(tiny_config):
    images = torch.randint(0, 255, (40, 1, 28, 28), dtype=torch.uint8)
    with pytest.raises(ConfigError, match="class labels"):
        Trainer(tiny_config(**{"model.conditional": True}), dataset=ImageDataset(images, name="unlabelled"))
