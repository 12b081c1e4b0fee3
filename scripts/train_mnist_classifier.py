"""Train gankit's built-in digit classifier (the default feature extractor for MNIST-like data).

    .venv/bin/python scripts/train_mnist_classifier.py --data-root ../shared/data

Trains on MNIST *train* only: 55,000 images for fitting, the other 5,000 (a fixed random split) to
pick the best epoch. MNIST *test* is read once, at the very end, to report the accuracy that
docs/metrics.md quotes; it never influences training. Writes, atomically:
  gankit/assets/mnist_classifier.safetensors  (float32 weights, < 2 MB)
  gankit/assets/mnist_classifier.json         (test/validation accuracy, data, seed, time, machine)
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.metrics.extractors.digits import INFO, WEIGHTS, DigitNet
from gankit.utils import atomic_path, atomic_write_text, seed_everything


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Small random affine jitter (±10°, ±10% scale, ±2 px shift) so generated digits that are a bit off
    centre or size are still read as digits; the background stays black (-1)."""
    n = len(x)
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(10)
    scale = 1 + (torch.rand(n, generator=gen) * 2 - 1) * 0.1
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * (2 / 14)  # 2 px in [-1, 1] coordinates
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1


@torch.no_grad()
def accuracy(net: DigitNet, images: torch.Tensor, labels: torch.Tensor) -> float:
    net.eval()
    correct = 0
    for i in range(0, len(images), 1000):
        x = images[i : i + 1000].float().div(127.5).sub(1)
        correct += int((net(x)[1].argmax(1) == labels[i : i + 1000]).sum())
    return correct / len(images)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", default="data", help="folder holding MNIST/raw/*.gz")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=WEIGHTS, help="weights file (.safetensors)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)

    train = load_dataset(DataConfig(name="mnist", root=args.data_root, split="train", download=False))
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(1234))
    fit_idx, val_idx = order[5000:], order[:5000]
    x_fit, y_fit = train.images[fit_idx], train.labels[fit_idx]
    x_val, y_val = train.images[val_idx], train.labels[val_idx]

    net = DigitNet()
    steps_per_epoch = len(x_fit) // args.batch_size
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(args.seed)
    best, best_state, t0 = -1.0, None, time.time()
    for epoch in range(args.epochs):
        net.train()
        perm = torch.randperm(len(x_fit), generator=gen)
        total = 0.0
        for s in range(steps_per_epoch):
            idx = perm[s * args.batch_size : (s + 1) * args.batch_size]
            x = augment(x_fit[idx].float().div(127.5).sub(1), gen)
            loss = F.cross_entropy(net(x)[1], y_fit[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        val = accuracy(net, x_val, y_val)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total / steps_per_epoch:.4f}  val acc {val:.4f}  "
              f"({time.time() - t0:.0f}s)", flush=True)
        if val > best:
            best, best_state = val, {k: v.detach().clone() for k, v in net.state_dict().items()}

    net.load_state_dict(best_state)
    test = load_dataset(DataConfig(name="mnist", root=args.data_root, split="test", download=False))
    test_acc = accuracy(net, test.images, test.labels)
    print(f"MNIST test accuracy: {test_acc:.4f} ({round(test_acc * len(test))}/{len(test)}); "
          f"validation (5k held out of train): {best:.4f}")

    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    with atomic_path(args.out) as tmp:
        save_file(state, str(tmp), metadata={"test_accuracy": f"{test_acc:.4f}", "trained_on": "MNIST train"})
    info = {"test_accuracy": test_acc, "test_errors": round((1 - test_acc) * len(test)),
            "validation_accuracy": best, "trained_on": "MNIST train (55,000 fit + 5,000 validation), never test",
            "epochs": args.epochs, "seed": args.seed, "parameters": sum(v.numel() for v in net.parameters()),
            "weights_bytes": args.out.stat().st_size, "train_seconds": round(time.time() - t0, 1),
            "torch": torch.__version__, "machine": f"{platform.processor() or platform.machine()}, "
            f"{args.threads} threads", "command": "python scripts/train_mnist_classifier.py "
            f"--epochs {args.epochs} --seed {args.seed}"}
    info_path = INFO if args.out == WEIGHTS else args.out.with_suffix(".json")
    atomic_write_text(info_path, json.dumps(info, indent=2) + "\n")
    print(f"wrote {args.out} ({info['weights_bytes']} bytes) and {info_path}")


if __name__ == "__main__":
    main()
