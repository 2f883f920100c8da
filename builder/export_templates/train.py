"""Train the exported model on one device, or on many with torchrun.

    python train.py                                   # one device (cuda > mps > cpu)
    python train.py --resume                          # continue from runs/checkpoint.pt
    torchrun --nproc_per_node=4 train.py              # 4 processes: DistributedDataParallel
    torchrun --nnodes=2 --node_rank=0 --master_addr=HOST --master_port=29500 \
        --nproc_per_node=8 train.py                   # two machines (node_rank=1 on the other)

Under torchrun every process holds the data on its device, trains on its own
slice of each epoch's shuffled order, and DDP averages the gradients; only rank 0
prints and writes checkpoints. `--batch-size` is the global batch, split across
the processes, so the run takes the same optimizer steps as on one device.
Needs only torch and numpy (and scikit-learn for some built-in datasets).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

# <export:model>
from model import Model as Net

# </export:model>

# <export:settings>
# The settings chosen in LayerCraft; edit them here or override them on the command line.
SETTINGS = {
    "epochs": 5,
    "batch_size": 32,
    "optimizer": "adam",
    "lr": 0.01,
    "momentum": 0.9,
    "weight_decay": 0.0,
    "l1": 0.0,
    "schedule": "none",
    "step_size": 10,
    "gamma": 0.1,
    "loss": "cross_entropy",
    "clip_grad": None,
    "early_stopping_patience": None,
    "seed": 0,
    "amp": True,
    "dataset": "moons",
    "dataset_options": {"n_samples": 400, "noise": 0.2},
    "data_seed": 0,
    "data_file": None,
    "label_column": None,
    "val_fraction": 0.2,
    "task": "classification",
    "input_dtype": "float32",
    "standardise": True,
    "input_noise": 0.0,
    "augment_shift": 0,
    "augment_hflip": False,
    "augment_noise": 0.0,
}
# </export:settings>


# ---- data ----------------------------------------------------------------------------------


# <export:dataset>
def make_dataset(rng, n_samples=1000, noise=0.1):
    """Two interleaving half circles (scikit-learn's make_moons)."""
    from sklearn.datasets import make_moons

    seed = int(rng.integers(2**31 - 1))
    x, y = make_moons(n_samples, noise=noise, random_state=seed)
    return x.astype(np.float32), y


# </export:dataset>


def read_idx(path):
    """An MNIST-style IDX file (raw or .gz) as a numpy array."""
    opener = gzip.open if str(path).lower().endswith(".gz") else open
    with opener(path, "rb") as file:
        data = file.read()
    dtypes = {
        0x08: np.uint8,
        0x09: np.int8,
        0x0B: ">i2",
        0x0C: ">i4",
        0x0D: ">f4",
        0x0E: ">f8",
    }
    dtype, rank = np.dtype(dtypes[data[2]]), data[3]
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank)
    )
    return np.frombuffer(data, dtype=dtype, offset=4 + 4 * rank).reshape(shape)


def read_csv(path, label_column=None):
    """Numeric feature columns and the label column (label/target/y/class, else the last)."""
    with open(path, newline="") as file:
        header, *rows = [
            [cell.strip() for cell in row] for row in csv.reader(file) if row
        ]
    if label_column is None:
        lowered = [name.lower() for name in header]
        guesses = [
            lowered.index(g) for g in ("label", "target", "y", "class") if g in lowered
        ]
        label = guesses[0] if guesses else len(header) - 1
    else:
        label = (
            header.index(str(label_column))
            if str(label_column) in header
            else label_column
        )
    x = np.array([[float(v) for i, v in enumerate(row) if i != label] for row in rows])
    return x.astype(np.float32), np.array([row[label] for row in rows])


def as_targets(y):
    """Class indices for classification (text labels numbered in sorted order), else floats."""
    if SETTINGS["task"] != "classification":
        return y.astype(np.float32)
    try:
        numbers = y.astype(np.float64)
        return numbers.astype(np.int64).reshape(-1)
    except ValueError:  # text labels
        names = sorted({str(v) for v in y})
        return np.array([names.index(str(v)) for v in y], dtype=np.int64)


def load_file(path, label_column=None):
    """Inputs and targets from a .csv, an .npz (arrays x and y) or an IDX images file."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".csv"):
        x, y = read_csv(path, label_column)
    elif name.endswith(".npz"):
        with np.load(path, allow_pickle=False) as arrays:
            x, y = arrays["x"].astype(np.float32), arrays["y"]
    elif "idx" in name or "ubyte" in name:
        images = read_idx(path)
        x = images.astype(np.float32)[:, None]  # 1×H×W images
        if images.dtype == np.uint8:
            x /= 255.0
        for old, new in (("images-idx3", "labels-idx1"), ("images", "labels")):
            if old in path.name:
                y = read_idx(path.with_name(path.name.replace(old, new)))
                break
        else:
            raise SystemExit(
                f"{path}: the labels file must sit beside it (…-labels-idx1-ubyte)"
            )
    else:
        raise SystemExit(f"{path}: expected a .csv, an .npz or an IDX (-ubyte) file")
    if SETTINGS["task"] == "reconstruction":
        return x, x
    return x, as_targets(y)


def row_chunks(x, values=1 << 20):
    """Consecutive rows of x, about `values` numbers at a time (views, not copies)."""
    step = max(1, values // max(1, x[0].size if len(x) else 1))
    for start in range(0, len(x), step):
        yield x[start : start + step]


def moments(x, per_column):
    """Mean and std in float64, summed chunk by chunk so a large dataset is never copied
    whole into float64 (the app computes them the same way, to the last bit)."""
    axis = 0 if per_column else None
    total = np.zeros(x.shape[1:] if per_column else ())
    for chunk in row_chunks(x):
        total += chunk.sum(axis=axis, dtype=np.float64)
    count = max(1, len(x) if per_column else x.size)
    mean = total / count
    squares = np.zeros_like(mean)
    for chunk in row_chunks(x):
        squares += np.square(chunk - mean, dtype=np.float64).sum(axis=axis)
    return mean, np.sqrt(squares / count)


def standardise_in_place(x, mean, std):
    mean, std = mean.astype(x.dtype), std.astype(x.dtype)
    for chunk in row_chunks(x):
        chunk -= mean
        chunk /= std


def split_and_standardise(x, y, seed):
    """A seeded train/validation split, standardised with the training part's statistics only."""
    n, val_fraction = len(x), SETTINGS["val_fraction"]
    order = np.random.default_rng(seed).permutation(n)
    n_val = min(max(1, round(n * val_fraction)), n - 1) if val_fraction > 0 else 0
    val, train = order[:n_val], order[n_val:]
    train = train[: max(1, round(len(train) * SETTINGS.get("train_fraction", 1.0)))]
    x_train, y_train, x_val, y_val = x[train], y[train], x[val], y[val]
    if SETTINGS["input_dtype"] == "float32" and SETTINGS["standardise"]:
        x_train, x_val = (
            x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float32)
            for x in (x_train, x_val)
        )
        # Images: one mean and std for all pixels; features: one per column.
        mean, std = moments(x_train, per_column=x.ndim < 3)
        # Constant features (std 0) would divide by zero; leave them centred instead.
        std = np.where(std > 1e-12, std, 1.0)
        for part in (x_train, x_val):
            standardise_in_place(part, mean, std)
    if SETTINGS["task"] == "regression" and SETTINGS["standardise"]:
        mean, std = float(y_train.mean()), float(y_train.std())
        std = std if std > 1e-12 else 1.0
        y_train, y_val = (y_train - mean) / std, (y_val - mean) / std
    return x_train, y_train, x_val, y_val


def as_tensors(x_train, y_train, x_val, y_val, seed):
    """Inputs as float32 (or int64 token ids); targets shaped for the task's loss."""
    x_type = torch.int64 if SETTINGS["input_dtype"] == "int64" else torch.float32
    x_train = torch.as_tensor(np.ascontiguousarray(x_train)).to(x_type)
    x_val = torch.as_tensor(np.ascontiguousarray(x_val)).to(x_type)
    if SETTINGS["task"] == "classification":
        y_train = torch.as_tensor(y_train).to(torch.int64).reshape(-1)
        y_val = torch.as_tensor(y_val).to(torch.int64).reshape(-1)
    elif SETTINGS["task"] == "regression":
        y_train = torch.as_tensor(np.ascontiguousarray(y_train)).to(torch.float32)
        y_val = torch.as_tensor(np.ascontiguousarray(y_val)).to(torch.float32)
        if y_train.dim() == 1:
            y_train, y_val = y_train[:, None], y_val[:, None]
    else:  # reconstruction: the target is the clean input
        y_train, y_val = x_train, x_val.clone()
        if SETTINGS["input_noise"] > 0:
            # One fixed draw of noise for validation, so val loss is comparable across epochs.
            generator = torch.Generator().manual_seed(seed + 1)
            x_val = (
                x_val
                + torch.randn(x_val.shape, generator=generator)
                * SETTINGS["input_noise"]
            )
    return x_train, y_train, x_val, y_val


def load_data(data_file, device):
    """Train and validation tensors (x_train, y_train, x_val, y_val), resident on the device."""
    if data_file is not None:
        x, y = load_file(data_file, SETTINGS["label_column"])
    elif SETTINGS["dataset"] is not None:
        rng = np.random.default_rng(SETTINGS["data_seed"])
        x, y = make_dataset(rng, **SETTINGS["dataset_options"])
    else:
        raise SystemExit(
            "This model was trained on a data file: pass it with --data PATH"
        )
    seed = SETTINGS["data_seed"]
    tensors = as_tensors(*split_and_standardise(x, np.asarray(y), seed), seed)
    return [tensor.to(device) for tensor in tensors]


# ---- augmentation (training batches only, on the device) -----------------------------------


def augment(x, generator=None):
    """The random shifts, flips and noise LayerCraft applied to each training batch."""
    if SETTINGS["augment_shift"]:
        x = random_shift(x, SETTINGS["augment_shift"], generator)
    if SETTINGS["augment_hflip"]:
        x = random_hflip(x, generator)
    if SETTINGS["augment_noise"]:
        noise = torch.randn(
            x.shape, device=x.device, dtype=x.dtype, generator=generator
        )
        x = x + SETTINGS["augment_noise"] * noise
    return x


def random_shift(x, max_shift, generator=None):
    """Translate each image by its own integer (dy, dx) in [-max_shift, max_shift], zero-filled."""
    *lead, height, width = x.shape
    batch = x.shape[0]
    pad = max_shift
    # Pad once, then pick each sample's window with one gather along rows and one along columns.
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(-pad, pad + 1, (batch,), device=x.device, generator=generator)
    dx = torch.randint(-pad, pad + 1, (batch,), device=x.device, generator=generator)
    rows = torch.arange(height, device=x.device)[None, :] + pad - dy[:, None]  # (B, H)
    cols = torch.arange(width, device=x.device)[None, :] + pad - dx[:, None]  # (B, W)
    middle = [1] * (len(lead) - 1)
    padded_w = padded.shape[-1]
    row_index = rows.view(batch, *middle, height, 1).expand(*lead, height, padded_w)
    picked_rows = padded.gather(-2, row_index)
    col_index = cols.view(batch, *middle, 1, width).expand(*lead, height, width)
    return picked_rows.gather(-1, col_index)


def random_hflip(x, generator=None):
    """Mirror each image left-right with probability 1/2."""
    flip = torch.rand(x.shape[0], device=x.device, generator=generator) < 0.5
    mask = flip.view(-1, *([1] * (x.dim() - 1)))
    return torch.where(mask, x.flip(-1), x)


# ---- the parts of training -----------------------------------------------------------------


def make_optimizer(parameters, lr):
    """The optimizer named in SETTINGS."""
    name, decay = SETTINGS["optimizer"], SETTINGS["weight_decay"]
    momentum = SETTINGS["momentum"]
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=lr, weight_decay=decay)
    if name == "momentum":
        return torch.optim.SGD(parameters, lr=lr, momentum=momentum, weight_decay=decay)
    if name == "nesterov":
        return torch.optim.SGD(
            parameters,
            lr=lr,
            momentum=momentum or 0.9,
            nesterov=True,
            weight_decay=decay,
        )
    if name == "adagrad":
        return torch.optim.Adagrad(parameters, lr=lr, weight_decay=decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=lr, weight_decay=decay)
    if name == "adam":
        return torch.optim.Adam(parameters, lr=lr, weight_decay=decay)
    if name == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=decay)
    if name == "adadelta":
        return torch.optim.Adadelta(parameters, lr=lr, weight_decay=decay)
    raise SystemExit(f"unknown optimizer {name!r}")


def make_scheduler(optimizer, lr, epochs, steps_per_epoch):
    """The learning-rate schedule named in SETTINGS, or None; one-cycle steps every batch."""
    name, gamma = SETTINGS["schedule"], SETTINGS["gamma"]
    if name == "none":
        return None
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(
            optimizer, SETTINGS["step_size"], gamma=gamma
        )
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch
        )
    if name == "plateau":
        patience = max(1, (SETTINGS["early_stopping_patience"] or 0) // 2)
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=gamma, patience=patience
        )
    raise SystemExit(f"unknown schedule {name!r}")


def compute_loss(output, target):
    """The loss named in SETTINGS, with targets shaped the way it needs them."""
    name = SETTINGS["loss"]
    if name == "cross_entropy":
        return F.cross_entropy(output, target)
    if name == "bce":
        return F.binary_cross_entropy_with_logits(
            output, target.float().view_as(output)
        )
    target = target.view_as(output)
    if name == "mse":
        return F.mse_loss(output, target)
    if name == "l1":
        return F.l1_loss(output, target)
    if name == "huber":
        return F.huber_loss(output, target)
    raise SystemExit(f"unknown loss {name!r}")


def count_correct(output, target):
    """Correct predictions in a batch (0 for regression)."""
    if SETTINGS["task"] != "classification":
        return torch.zeros((), device=output.device)
    if output.shape[-1] == 1 or output.dim() == 1:
        predicted = (output.view(-1) > 0).long()
    else:
        predicted = output.argmax(dim=-1)
    return (predicted == target.view_as(predicted)).sum()


def first_output(output):
    """Training uses the first output of a model that has several."""
    return output[0] if isinstance(output, tuple) else output


def kl_loss(model):
    """A VAE's KL terms (each Reparameterize node leaves `self.<node>_kl` in forward), weighted."""
    inner = getattr(model, "module", model)  # DistributedDataParallel wraps the model
    terms = [
        v for k, v in vars(inner).items() if k.endswith("_kl") and torch.is_tensor(v)
    ]
    return SETTINGS.get("kl_weight", 1.0) * sum(terms) if terms else 0.0


# ---- devices and processes -----------------------------------------------------------------


def setup_processes(device_name):
    """(rank, world_size, device): one process, or one of torchrun's when WORLD_SIZE is set."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1:
        local_rank = int(os.environ["LOCAL_RANK"])
        use_cuda = torch.cuda.is_available() and device_name != "cpu"
        if use_cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
        return dist.get_rank(), world_size, device
    if device_name == "auto":
        if torch.cuda.is_available():
            device_name = "cuda"
        elif torch.backends.mps.is_available():
            device_name = "mps"
        else:
            device_name = "cpu"
    return 0, 1, torch.device(device_name)


def shard_indices(n, epoch, rank, world_size, device):
    """This rank's share of the epoch's seeded shuffle, padded so every rank takes as many steps."""
    generator = torch.Generator().manual_seed(SETTINGS["seed"] + epoch)
    order = torch.randperm(n, generator=generator)
    per_rank = math.ceil(n / world_size)
    order = torch.cat([order, order[: per_rank * world_size - n]])
    return order[rank::world_size].to(device)


def all_sum(values, world_size):
    """Sum a small tensor over all ranks (a no-op on one device)."""
    if world_size > 1:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


# ---- one epoch -----------------------------------------------------------------------------


def keep_frozen_norms_fixed(net):
    """A frozen layer keeps its batch-norm statistics too: the new data must not move them."""
    for name in SETTINGS.get("frozen", []):
        for module in getattr(net, name).modules():
            if isinstance(module, nn.modules.batchnorm._NormBase):
                module.eval()


def train_one_epoch(model, optimizer, scheduler, data, epoch, context):
    """One pass over this rank's shard; returns (mean loss, accuracy) over all ranks."""
    x_train, y_train = data[0], data[1]
    rank, world_size, batch_size = (
        context["rank"],
        context["world_size"],
        context["batch"],
    )
    indices = shard_indices(len(x_train), epoch, rank, world_size, x_train.device)
    batches = indices.split(batch_size)
    # Loss sum, correct, count: summed on the device, so no per-step sync.
    totals = torch.zeros(3, device=x_train.device)
    model.train()
    keep_frozen_norms_fixed(getattr(model, "module", model))
    for step, batch in enumerate(batches, start=1):
        x, y = x_train[batch], y_train[batch]
        if SETTINGS["input_noise"] > 0 and SETTINGS["task"] == "reconstruction":
            # A denoising autoencoder: noisy inputs, clean targets.
            x = x + torch.randn_like(x) * SETTINGS["input_noise"]
        x = augment(x)
        with torch.autocast(
            x.device.type, dtype=torch.bfloat16, enabled=context["amp"]
        ):
            output = first_output(model(x))
            loss = compute_loss(output.float(), y) + kl_loss(model)
        if SETTINGS["l1"]:  # the L1 penalty applies to weights, not biases
            weights = (p for p in model.parameters() if p.dim() > 1)
            loss = loss + SETTINGS["l1"] * sum(p.abs().sum() for p in weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if SETTINGS["clip_grad"]:
            nn.utils.clip_grad_norm_(model.parameters(), SETTINGS["clip_grad"])
        optimizer.step()
        if isinstance(scheduler, torch.optim.lr_scheduler.OneCycleLR):
            scheduler.step()
        totals[0] += loss.detach() * len(batch)
        totals[1] += count_correct(output.detach(), y)
        totals[2] += len(batch)
        if rank == 0 and len(batches) >= 100 and step % (len(batches) // 4) == 0:
            print(
                f"  epoch {epoch + 1} step {step}/{len(batches)} loss {loss.item():.4f}"
            )
    loss_sum, correct, count = all_sum(totals, world_size).tolist()
    return loss_sum / count, correct / count


@torch.no_grad()
def evaluate(net, data, context):
    """Validation loss and accuracy; each rank scores a slice and the sums are combined."""
    x_val, y_val = data[2], data[3]
    rank, world_size = context["rank"], context["world_size"]
    indices = torch.arange(rank, len(x_val), world_size, device=x_val.device)
    totals = torch.zeros(3, device=x_val.device)
    net.eval()
    for batch in indices.split(max(context["batch"], 256)):
        x, y = x_val[batch], y_val[batch]
        with torch.autocast(
            x.device.type, dtype=torch.bfloat16, enabled=context["amp"]
        ):
            output = first_output(net(x)).float()
        loss = compute_loss(output, y) + kl_loss(net)
        totals[0] += loss * len(batch)
        totals[1] += count_correct(output, y)
        totals[2] += len(batch)
    loss_sum, correct, count = all_sum(totals, world_size).tolist()
    return loss_sum / max(count, 1), correct / max(count, 1)


# ---- checkpoints ---------------------------------------------------------------------------


def save_checkpoint(path, state):
    """Write atomically, so a run killed mid-save leaves the previous checkpoint intact."""
    partial = path.with_suffix(".tmp")
    torch.save(state, partial)
    os.replace(partial, path)


def cpu_state(net):
    return {
        name: tensor.detach().cpu().clone() for name, tensor in net.state_dict().items()
    }


# ---- main ----------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=SETTINGS["epochs"])
    parser.add_argument("--batch-size", type=int, default=SETTINGS["batch_size"])
    parser.add_argument("--lr", type=float, default=SETTINGS["lr"])
    parser.add_argument(
        "--data", help="a data file (.npz with x and y, .csv, IDX images)"
    )
    parser.add_argument(
        "--out", default="runs", help="folder for checkpoints and weights"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue from the checkpoint"
    )
    parser.add_argument(
        "--device", default="auto", choices=["auto", "cpu", "cuda", "mps"]
    )
    parser.add_argument(
        "--no-amp", action="store_true", help="no bf16 autocast on CUDA"
    )
    return parser.parse_args(argv)


def main(argv=None):
    """Train; returns the trained (best) model. Rank 0 writes OUT/model.pt and OUT/metrics.jsonl."""
    args = parse_args(argv)
    rank, world_size, device = setup_processes(args.device)
    torch.manual_seed(SETTINGS["seed"])
    data = load_data(args.data or SETTINGS["data_file"], device)

    net = Net().to(device)
    # Layers frozen in LayerCraft keep their weights.
    for name in SETTINGS.get("frozen", []):
        getattr(net, name).requires_grad_(False)
    # DDP broadcasts rank 0's initial weights, so every rank starts from the same model.
    if world_size > 1:
        model = DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None
        )
    else:
        model = net
    batch = max(1, math.ceil(args.batch_size / world_size))
    steps_per_epoch = math.ceil(math.ceil(len(data[0]) / world_size) / batch)
    optimizer = make_optimizer(
        [p for p in model.parameters() if p.requires_grad], args.lr
    )
    scheduler = make_scheduler(optimizer, args.lr, args.epochs, steps_per_epoch)
    context = {
        "rank": rank,
        "world_size": world_size,
        "batch": batch,
        "amp": device.type == "cuda" and SETTINGS["amp"] and not args.no_amp,
    }

    out = Path(args.out)
    checkpoint_path = out / "checkpoint.pt"
    progress = {
        "epoch": 0,
        "best_val_loss": math.inf,
        "best_state": None,
        "bad_epochs": 0,
    }
    if args.resume:
        if not checkpoint_path.exists():
            raise SystemExit(
                f"no checkpoint at {checkpoint_path}: run once without --resume"
            )
        checkpoint = torch.load(checkpoint_path, map_location=device)
        net.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(checkpoint["scheduler"])
        progress = checkpoint["progress"]
        torch.set_rng_state(checkpoint["rng"].cpu())
        if checkpoint["cuda_rng"] is not None and device.type == "cuda":
            torch.cuda.set_rng_state(checkpoint["cuda_rng"].cpu(), device)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        print(
            f"training on {device} x {world_size}, {len(data[0])} samples, {args.epochs} epochs"
        )

    patience = SETTINGS["early_stopping_patience"]
    stopped_early = False
    for epoch in range(progress["epoch"], args.epochs):
        started = time.perf_counter()
        train_loss, train_accuracy = train_one_epoch(
            model, optimizer, scheduler, data, epoch, context
        )
        val_loss, val_accuracy = evaluate(net, data, context)
        seconds = time.perf_counter() - started
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(val_loss)
        elif scheduler is not None and not isinstance(
            scheduler, torch.optim.lr_scheduler.OneCycleLR
        ):
            scheduler.step()

        progress["epoch"] = epoch + 1
        if val_loss < progress["best_val_loss"]:
            progress.update(
                best_val_loss=val_loss, best_state=cpu_state(net), bad_epochs=0
            )
        else:
            progress["bad_epochs"] += 1
        record = {
            "kind": "epoch",
            "epoch": epoch + 1,
            "train_loss": train_loss,
            "train_accuracy": train_accuracy,
            "val_loss": val_loss,
            "val_accuracy": val_accuracy,
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": seconds,
            "samples_per_s": len(data[0]) / seconds,
        }
        if rank == 0:
            accuracy = (
                f"  val_acc {val_accuracy:.3f}"
                if SETTINGS["task"] == "classification"
                else ""
            )
            print(
                f"epoch {epoch + 1}/{args.epochs}  train_loss {train_loss:.4f}  "
                f"val_loss {val_loss:.4f}{accuracy}  {seconds:.1f}s"
            )
            with open(out / "metrics.jsonl", "a") as file:
                file.write(json.dumps(record) + "\n")
            save_checkpoint(
                checkpoint_path,
                {
                    "model": net.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict()
                    if scheduler is not None
                    else None,
                    "progress": progress,
                    # The random states, so dropout continues exactly on resume.
                    "rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state(device)
                    if device.type == "cuda"
                    else None,
                },
            )
        # Every rank sees the same combined val_loss, so they all stop at the same epoch.
        if patience and progress["bad_epochs"] >= patience:
            if rank == 0:
                print(f"early stopping: no better val_loss for {patience} epochs")
            stopped_early = True
            break

    # Like the app: early stopping restores the best validated weights.
    if stopped_early:
        net.load_state_dict(progress["best_state"])
    if rank == 0:
        torch.save(net.state_dict(), out / "model.pt")
        print(f"saved {out / 'model.pt'}")
    if world_size > 1:
        dist.destroy_process_group()
    return net


if __name__ == "__main__":
    main()
