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
    "loss": "cross_entropy",
    "clip_grad": None,
    "early_stopping_patience": None,
    "seed": 0,
    "amp": True,
    "dataset": "moons",
    "dataset_options": {"n_samples": 400, "noise": 0.2},
    "data_file": None,
    "label_column": None,
    "val_fraction": 0.2,
    "task": "classification",
    "num_classes": 2,
    "input_shape": [2],
    "input_dtype": "float32",
}
# </export:settings>


# ---- data ----------------------------------------------------------------------------------


# <export:dataset>
def make_dataset(seed, n_samples=400, noise=0.2):
    """Two interleaving half circles (scikit-learn's make_moons)."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    return x.astype(np.float32), y.astype(np.int64)


# </export:dataset>


def read_idx(path):
    """An MNIST-style IDX file (raw or .gz) as a numpy array."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as file:
        data = file.read()
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    dtype, rank = dtypes[data[2]], data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank))
    return np.frombuffer(data, dtype=dtype, offset=4 + 4 * rank).reshape(shape)


def load_file(path, label_column=None):
    """Features and labels from an .npz (arrays x, y), a .csv or a pair of IDX files."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".npz"):
        with np.load(path, allow_pickle=False) as arrays:
            return arrays["x"], arrays["y"]
    if name.endswith(".csv"):
        table = np.genfromtxt(path, delimiter=",", names=True, dtype=np.float64)
        columns = list(table.dtype.names)
        label = label_column if label_column is not None else columns[-1]
        features = [c for c in columns if c != label]
        x = np.stack([table[c] for c in features], axis=1)
        return x, table[label]
    if "-images" in name or "images-" in name:
        labels = Path(str(path).replace("images", "labels"))
        return read_idx(path)[:, None].astype(np.float32) / 255.0, read_idx(labels)
    raise SystemExit(f"{path}: expected an .npz, a .csv or an IDX images file")


def split_and_standardise(x, y, val_fraction, seed):
    """A seeded train/validation split; inputs standardised with the training part's statistics."""
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = round(len(x) * val_fraction)
    val, train = order[:n_val], order[n_val:]
    x_train, x_val = x[train], x[val]
    if SETTINGS["input_dtype"] == "float32":
        mean = x_train.mean(axis=0, keepdims=True)
        std = x_train.std(axis=0, keepdims=True)
        std[std == 0] = 1.0
        x_train, x_val = (x_train - mean) / std, (x_val - mean) / std
    return x_train, y[train], x_val, y[val]


def load_data(data_file, device):
    """Train and validation tensors, resident on the training device."""
    if data_file is not None:
        x, y = load_file(data_file, SETTINGS["label_column"])
    elif SETTINGS["dataset"] is not None:
        x, y = make_dataset(SETTINGS["seed"], **SETTINGS["dataset_options"])
    else:
        raise SystemExit("This model was trained on a file: pass it with --data PATH")
    x_dtype = torch.int64 if SETTINGS["input_dtype"] == "int64" else torch.float32
    y_dtype = torch.int64 if SETTINGS["task"] == "classification" else torch.float32
    x = np.asarray(x).reshape(len(x), *SETTINGS["input_shape"])
    parts = split_and_standardise(x, np.asarray(y), SETTINGS["val_fraction"], SETTINGS["seed"])
    dtypes = (x_dtype, y_dtype, x_dtype, y_dtype)
    return [
        torch.as_tensor(a).to(device=device, dtype=t) for a, t in zip(parts, dtypes, strict=True)
    ]


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
            parameters, lr=lr, momentum=momentum, nesterov=True, weight_decay=decay
        )
    if name == "adagrad":
        return torch.optim.Adagrad(parameters, lr=lr, weight_decay=decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=lr, weight_decay=decay)
    if name == "adam":
        return torch.optim.Adam(parameters, lr=lr, weight_decay=decay)
    if name == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=decay)
    raise SystemExit(f"unknown optimizer {name!r}")


def make_scheduler(optimizer, lr, epochs, steps_per_epoch):
    """The learning-rate schedule named in SETTINGS, or None; one-cycle steps every batch."""
    name = SETTINGS["schedule"]
    if name == "none":
        return None
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch
        )
    if name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=2)
    raise SystemExit(f"unknown schedule {name!r}")


def compute_loss(output, target):
    """The loss named in SETTINGS, with targets shaped the way it needs them."""
    name = SETTINGS["loss"]
    if name == "cross_entropy":
        return F.cross_entropy(output, target)
    if name == "bce":
        return F.binary_cross_entropy_with_logits(output, target.float().view_as(output))
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


def train_one_epoch(model, optimizer, scheduler, data, epoch, context):
    """One pass over this rank's shard; returns (mean loss, accuracy) over all ranks."""
    x_train, y_train = data[0], data[1]
    rank, world_size, batch_size = context["rank"], context["world_size"], context["batch"]
    indices = shard_indices(len(x_train), epoch, rank, world_size, x_train.device)
    batches = indices.split(batch_size)
    totals = torch.zeros(3, device=x_train.device)  # loss sum, correct, count; no per-step sync
    model.train()
    for step, batch in enumerate(batches, start=1):
        x, y = x_train[batch], y_train[batch]
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=context["amp"]):
            output = first_output(model(x))
            loss = compute_loss(output.float(), y)
        if SETTINGS["l1"]:
            loss = loss + SETTINGS["l1"] * sum(p.abs().sum() for p in model.parameters())
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
        if rank == 0 and len(batches) >= 20 and step % (len(batches) // 4) == 0:
            print(f"  epoch {epoch + 1} step {step}/{len(batches)} loss {loss.item():.4f}")
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
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=context["amp"]):
            output = first_output(net(x)).float()
        loss = compute_loss(output, y)
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
    return {name: tensor.detach().cpu().clone() for name, tensor in net.state_dict().items()}


# ---- main ----------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=SETTINGS["epochs"])
    parser.add_argument("--batch-size", type=int, default=SETTINGS["batch_size"])
    parser.add_argument("--lr", type=float, default=SETTINGS["lr"])
    parser.add_argument("--data", help="a data file (.npz with x and y, .csv, IDX images)")
    parser.add_argument("--out", default="runs", help="folder for checkpoints and weights")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--no-amp", action="store_true", help="no bf16 autocast on CUDA")
    return parser.parse_args(argv)


def main(argv=None):
    """Train; returns the trained (best) model. Rank 0 writes OUT/model.pt and OUT/metrics.jsonl."""
    args = parse_args(argv)
    rank, world_size, device = setup_processes(args.device)
    torch.manual_seed(SETTINGS["seed"])
    data = load_data(args.data or SETTINGS["data_file"], device)

    net = Net().to(device)
    # DDP broadcasts rank 0's initial weights, so every rank starts from the same model.
    model = DistributedDataParallel(net) if world_size > 1 else net
    batch = max(1, math.ceil(args.batch_size / world_size))
    steps_per_epoch = math.ceil(math.ceil(len(data[0]) / world_size) / batch)
    optimizer = make_optimizer(model.parameters(), args.lr)
    scheduler = make_scheduler(optimizer, args.lr, args.epochs, steps_per_epoch)
    context = {
        "rank": rank,
        "world_size": world_size,
        "batch": batch,
        "amp": device.type == "cuda" and SETTINGS["amp"] and not args.no_amp,
    }

    out = Path(args.out)
    checkpoint_path = out / "checkpoint.pt"
    progress = {"epoch": 0, "best_val_loss": math.inf, "best_state": None, "bad_epochs": 0}
    if args.resume:
        checkpoint = torch.load(checkpoint_path, map_location=device)
        net.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(checkpoint["scheduler"])
        progress = checkpoint["progress"]
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        print(f"training on {device} x {world_size}, {len(data[0])} samples, {args.epochs} epochs")

    patience = SETTINGS["early_stopping_patience"]
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
            progress.update(best_val_loss=val_loss, best_state=cpu_state(net), bad_epochs=0)
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
            print(
                f"epoch {epoch + 1}/{args.epochs}  train_loss {train_loss:.4f}  "
                f"val_loss {val_loss:.4f}  val_acc {val_accuracy:.3f}  {seconds:.1f}s"
            )
            with open(out / "metrics.jsonl", "a") as file:
                file.write(json.dumps(record) + "\n")
            save_checkpoint(
                checkpoint_path,
                {
                    "model": net.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict() if scheduler is not None else None,
                    "progress": progress,
                },
            )
        # Every rank sees the same combined val_loss, so they all stop at the same epoch.
        if patience and progress["bad_epochs"] >= patience:
            if rank == 0:
                print(f"early stopping: no better val_loss for {patience} epochs")
            break

    if patience and progress["best_state"] is not None:
        net.load_state_dict(progress["best_state"])
    if rank == 0:
        torch.save(net.state_dict(), out / "model.pt")
        print(f"saved {out / 'model.pt'}")
    if world_size > 1:
        dist.destroy_process_group()
    return net


if __name__ == "__main__":
    main()
