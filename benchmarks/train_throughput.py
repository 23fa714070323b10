"""Training throughput: budgetsearch's trainer against a plain reference loop, in one run.

Model wrn-16-4 (dense) on the CIFAR-10 subset. The reference is the loop
people write first: a ``torch.utils.data.DataLoader`` over the same uint8
images, each image augmented on the CPU in its own Python call (random crop
with 4 px zero padding, horizontal flip, normalisation, Cutout 16, i.e. the
same recipe), float32, default memory layout, batches copied to the device.
The trainer keeps the data set on the device and augments whole batches
there, trains in the channels_last layout, and on CUDA in bf16 autocast with
cuDNN autotuning and a fused SGD; ``--compile`` adds torch.compile (with CUDA
graphs on CUDA).

Both see the same model init, optimizer and batch size. Each repetition runs
the trainer for ``--epochs`` epochs and the reference for as many, which one
first alternating, so load from other processes hits both alike; the first
epoch of each is a warm-up and not timed. Prints images/s of each and the
ratio of the medians and of the best repeats, and each loop's arithmetic rate:
a training step costs about three forward passes (forward, input gradient,
weight gradient), so 2 × 3 × fvcore's mult-adds flops per image. On CPU, where
both loops compute in float32, it also times a large float32 matmul on the same
threads: the rate no convolution kernel is expected to beat, and so a ceiling
on what any trainer of this model can reach on this machine.

    python benchmarks/train_throughput.py [--data PATH] [--images 1024] [--repeats 3] [--device auto] [--compile]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from budgetsearch.counting import count
from budgetsearch.data import load_dataset
from budgetsearch.training import Architecture, TrainConfig, train_trial
from budgetsearch.training._device import resolve_device

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar-10-mini" / "cifar-10-batches-py"
MODEL = "wrn-16-4"
MATMUL_SIZE = 4096


class PerImageCifar(torch.utils.data.Dataset):
    """uint8 images augmented one at a time, as torchvision transforms would."""

    def __init__(self, images, labels, mean, std, cutout: int = 16, padding: int = 4):
        self.images, self.labels = images, labels
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)
        self.cutout, self.padding = cutout, padding

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        image = self.images[index]
        _, height, width = image.shape
        padded = F.pad(image, (self.padding,) * 4)
        top, left = (int(v) for v in torch.randint(0, 2 * self.padding + 1, (2,)))
        image = padded[:, top:top + height, left:left + width]
        if torch.rand(()) < 0.5:
            image = image.flip(2)
        image = (image.float() / 255 - self.mean) / self.std
        y, x = (int(v) for v in torch.randint(0, height, (2,)))
        image[:, max(0, y - self.cutout // 2):y + self.cutout // 2, max(0, x - self.cutout // 2):x + self.cutout // 2] = 0
        return image, self.labels[index]


def reference_epochs(dataset, config: TrainConfig, device, epochs: int, workers: int) -> float:
    """Images/s of the reference loop over its epochs after the first."""
    model = Architecture(MODEL, "conv", None, dataset.num_classes, dataset.input_size).build(config.seed).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    data = PerImageCifar(dataset.train_images, dataset.train_labels, dataset.mean, dataset.std)
    loader = torch.utils.data.DataLoader(data, batch_size=config.batch_size, shuffle=True, drop_last=True,
                                         num_workers=workers, pin_memory=device.type == "cuda")
    timed_images, timed_seconds = 0, 0.0
    for epoch in range(epochs):
        model.train()
        started, seen = time.perf_counter(), 0
        for images, labels in loader:
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seen += len(labels)
        float(loss.detach())  # wait for the device
        if epoch > 0:
            timed_images += seen
            timed_seconds += time.perf_counter() - started
    return timed_images / timed_seconds


def trainer_epochs(dataset, config: TrainConfig) -> float:
    result = train_trial(MODEL, "conv", None, dataset, config)
    timed = result.history[1:]
    return sum(m["images_per_second"] * m["epoch_time"] for m in timed) / sum(m["epoch_time"] for m in timed)


def matmul_gflops(device, repeats: int = 5) -> float:
    """Best float32 GFLOP/s of a MATMUL_SIZE³ matmul on ``device``."""
    a, b = (torch.randn(MATMUL_SIZE, MATMUL_SIZE, device=device) for _ in range(2))
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        float((a @ b)[0, 0])  # wait for the device
        best = min(best, time.perf_counter() - started)
    return 2 * MATMUL_SIZE ** 3 / best / 1e9


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="CIFAR-10 python folder (default: the shared subset)")
    parser.add_argument("--images", type=int, default=1024, help="training images per epoch (default 1024)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per measurement, the first untimed (default 2)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers of the reference (default 0)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--compile", action="store_true", help="the trainer with TrainConfig(compile=True)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    dataset = load_dataset(f"cifar10:{args.data}", validation_size=0, seed=0)
    dataset = dataclasses.replace(dataset, train_images=dataset.train_images[:args.images],
                                  train_labels=dataset.train_labels[:args.images],
                                  # no evaluation is timed; keep it short
                                  val_images=dataset.test_images[:args.batch_size],
                                  val_labels=dataset.test_labels[:args.batch_size],
                                  test_images=dataset.test_images[:args.batch_size],
                                  test_labels=dataset.test_labels[:args.batch_size])
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, device=str(device), schedule="cosine",
                         compile=args.compile)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} CPU threads"
    print(f"{MODEL} on {len(dataset.train_images)} CIFAR-10 images, batch {args.batch_size}, device {device} ({where}), "
          f"torch {torch.__version__}, trainer compile={args.compile}, reference workers {args.workers}", flush=True)
    mult_adds = count(Architecture(MODEL, "conv", None, dataset.num_classes, dataset.input_size).build(0),
                      dataset.input_size).mult_adds
    train_flops = 2 * 3 * mult_adds  # per image: forward, input gradient and weight gradient
    ceiling = matmul_gflops(device) if device.type == "cpu" else None
    if ceiling is not None:
        print(f"float32 {MATMUL_SIZE}³ matmul on the same threads: {ceiling:.1f} GFLOP/s", flush=True)
    ours, theirs = [], []
    for repeat in range(args.repeats):
        if repeat % 2:  # alternate which goes first, so drifting load does not favour one
            theirs.append(reference_epochs(dataset, config, device, args.epochs, args.workers))
            ours.append(trainer_epochs(dataset, config))
        else:
            ours.append(trainer_epochs(dataset, config))
            theirs.append(reference_epochs(dataset, config, device, args.epochs, args.workers))
        print(f"  repeat {repeat + 1}: trainer {ours[-1]:8.1f} img/s   reference {theirs[-1]:8.1f} img/s   "
              f"ratio {ours[-1] / theirs[-1]:.2f}", flush=True)
    # On a shared machine other processes only ever slow a run down: the best repeat is the
    # closest to each loop's own speed, the median the typical one. Both are printed.
    def rate(images_per_second: float) -> str:
        gflops = images_per_second * train_flops / 1e9
        return f"{gflops:.1f} GFLOP/s" + (f", {gflops / ceiling:.0%} of the matmul's" if ceiling else "")

    for label, pick in (("median", statistics.median), ("best", max)):
        print(f"{label}: trainer {pick(ours):.1f} img/s ({rate(pick(ours))}), reference {pick(theirs):.1f} img/s "
              f"({rate(pick(theirs))}), ratio {pick(ours) / pick(theirs):.2f}x")
    print(f"GFLOP/s counted as 2 x 3 x {mult_adds:,} fvcore mult-adds per training image")
    return 0


if __name__ == "__main__":
    sys.exit(main())
