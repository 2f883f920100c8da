"""Generative adversarial training: a generator graph and a discriminator graph trained together.

The loop is the classic one (Goodfellow et al. 2014, with the non-saturating generator
loss): per batch, one discriminator step on real and generated images with BCE-with-logits,
then one generator step that asks the discriminator to call its images real. Each network
has its own Adam optimizer and learning rate. `GanTrainer` has the same run interface as
`builder.training.Trainer` (start / pause / resume / stop / join / run, state,
events_since) so the UI drives both the same way.

Speed habits as in the trainer: the images live on the device, batches are randperm slices,
and the losses are summed on the device and read back every `log_every` steps.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from builder.errors import BuilderError
from builder.shapes import analyse
from builder.training import resolve_device
from builder.training.background import BackgroundRun

# Names of the values summed on the device between two host reads, in buffer order.
_WINDOW_KEYS = ("loss_d", "loss_g", "d_real", "d_fake")
GAN_STATES = ("idle", "running", "paused", "stopped", "finished", "failed")


@dataclass
class GanConfig:
    """Settings of one adversarial run; noise_dim None = read it from the generator's Input."""

    epochs: int = 30
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)  # DCGAN's Adam betas; 0.9 makes GANs unstable
    noise_dim: int | None = None
    seed: int = 0
    device: str = "auto"
    sample_every: int = 50  # steps between refreshes of the sample grid
    n_samples: int = 64  # images in the fixed-noise sample grid
    log_every: int = 20  # steps between host reads of the losses (step events)

    def __post_init__(self) -> None:
        self.betas = (float(self.betas[0]), float(self.betas[1]))

    def validate(self) -> None:
        """BuilderError naming the field for any out-of-range setting."""
        positive = ("epochs", "batch_size", "sample_every", "n_samples", "log_every")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise BuilderError(f"{name} must be at least 1", field=name)
        for name in ("lr_g", "lr_d"):
            if not getattr(self, name) > 0:
                raise BuilderError(f"{name} must be positive", field=name, hint="Try 2e-4.")
        if not all(0 <= b < 1 for b in self.betas):
            raise BuilderError("betas must lie in [0, 1)", field="betas", hint="Try (0.5, 0.999).")
        if self.noise_dim is not None and self.noise_dim < 1:
            raise BuilderError("noise_dim must be at least 1", field="noise_dim")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["betas"] = list(self.betas)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GanConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise BuilderError(
                f"unknown GAN setting {sorted(unknown)[0]!r}",
                field=sorted(unknown)[0],
                hint=f"Use one of: {', '.join(sorted(known))}.",
            )
        return cls(**data)


# ---- checking the pair ----------------------------------------------------------------------


def noise_input_of(gen_arch) -> tuple[str, int]:
    """(Input node id, noise size) of a generator graph; BuilderError when it is not a noise vector."""
    inputs = gen_arch.input_nodes()
    if len(inputs) != 1:
        raise BuilderError(
            f"the generator has {len(inputs)} Input nodes; it needs exactly one (the noise)",
            node=inputs[1] if len(inputs) > 1 else None,
            hint="Keep one Input of shape [noise size], e.g. [32].",
        )
    node = inputs[0]
    params = gen_arch.params_of(node)
    shape = list(params["shape"])
    if params.get("dtype", "float32") != "float32" or len(shape) != 1:
        raise BuilderError(
            f"the generator's Input takes {shape} ({params.get('dtype')}); noise must be a "
            "float vector",
            node=node,
            field="shape",
            hint="Set the Input shape to [noise size], e.g. [32], and dtype float32.",
        )
    return node, int(shape[0])


def check_gan_pair(gen_arch, disc_arch) -> BuilderError | None:
    """None when the generator's images fit the discriminator, else the problem with its fix."""
    try:
        _check_pair(gen_arch, disc_arch)
    except BuilderError as err:
        return err
    return None


def _check_pair(gen_arch, disc_arch) -> None:
    analyses = {}
    for role, arch in (("generator", gen_arch), ("discriminator", disc_arch)):
        analysis = analyses[role] = analyse(arch)
        if analysis.errors:
            first = analysis.errors[0]
            raise BuilderError(
                f"the {role} graph has an error: {first.message}",
                node=first.node,
                field=first.field,
                hint=first.hint,
            )
        if len(analysis.outputs) != 1:
            raise BuilderError(
                f"the {role} has {len(analysis.outputs)} outputs; it needs exactly one",
                hint="Join the branches or remove the extra outputs.",
            )
    noise_input_of(gen_arch)
    gen_out = analyses["generator"].outputs[0]
    gen_shape = tuple(analyses["generator"].nodes[gen_out].output_shape)
    disc_inputs = disc_arch.input_nodes()
    if len(disc_inputs) != 1:
        raise BuilderError(
            f"the discriminator has {len(disc_inputs)} Input nodes; it needs exactly one (the image)",
            hint="Keep one Input with the generator's output shape.",
        )
    disc_in = disc_inputs[0]
    disc_shape = tuple(disc_arch.params_of(disc_in)["shape"])
    if gen_shape != disc_shape:
        raise BuilderError(
            f"the generator's output {gen_out!r} gives {list(gen_shape)} but the discriminator's "
            f"Input {disc_in!r} expects {list(disc_shape)}",
            node=disc_in,
            field="shape",
            hint=f"Set the discriminator Input shape to {list(gen_shape)}, or end the generator "
            f"with an Unflatten/Reshape to {list(disc_shape)}.",
        )
    disc_analysis = analyses["discriminator"]
    disc_out = disc_analysis.outputs[0]
    out_shape = tuple(disc_analysis.nodes[disc_out].output_shape)
    if math.prod(out_shape) != 1:
        raise BuilderError(
            f"the discriminator's output {disc_out!r} gives {list(out_shape)}; it must give one "
            "real/fake score per image",
            node=disc_out,
            hint="End the discriminator with Linear(out_features=1) and no Sigmoid.",
        )


def gan_images(dataset) -> torch.Tensor:
    """The training images of a Dataset (or a tensor), min-max scaled to [-1, 1] for a Tanh generator."""
    x = dataset if isinstance(dataset, torch.Tensor) else dataset.x_train
    if not x.is_floating_point():
        raise BuilderError(
            "a GAN needs image data, not token ids",
            field="dataset",
            hint="Use an image set such as digits.",
        )
    low, high = x.min(), x.max()
    return ((x - low) / (high - low).clamp_min(1e-8) * 2 - 1).float()


def check_gan_data(disc_arch, images: torch.Tensor) -> BuilderError | None:
    """None when the images have the discriminator Input's shape, else the problem with its fix."""
    disc_in = disc_arch.input_nodes()[0]
    expected = tuple(disc_arch.params_of(disc_in)["shape"])
    got = tuple(images.shape[1:])
    if got != expected:
        return BuilderError(
            f"the dataset's images are {list(got)} but the discriminator's Input expects "
            f"{list(expected)}",
            node=disc_in,
            field="shape",
            hint=f"Set both the discriminator Input and the generator output to {list(got)}.",
        )
    return None


# ---- diversity ------------------------------------------------------------------------------


def mean_pairwise_distance(images: torch.Tensor) -> torch.Tensor:
    """Mean L2 distance between distinct pairs of images (a device scalar)."""
    flat = images.reshape(images.shape[0], -1).float()
    n = flat.shape[0]
    return torch.cdist(flat, flat).sum() / max(1, n * (n - 1))


def sample_diversity(fake: torch.Tensor, real: torch.Tensor) -> float:
    """Mean pairwise distance of generated images relative to real ones: ~1 healthy, ~0 collapsed."""
    return float(mean_pairwise_distance(fake) / mean_pairwise_distance(real).clamp_min(1e-8))


# ---- the trainer ----------------------------------------------------------------------------


class GanTrainer(BackgroundRun):
    """Trains a generator and a discriminator against each other in a background thread.

    Events are DESIGN.md's metric events with `loss_d`, `loss_g`, `d_real` (mean D(x)),
    `d_fake` (mean D(G(z))) and `diversity` (of the latest sample grid; None before it). `loss` is the
    discriminator loss so generic loss curves still show something sensible.
    """

    thread_prefix = "gan"

    def __init__(
        self,
        gen_arch,
        disc_arch,
        dataset,
        config: GanConfig | None = None,
        *,
        run_id: str | None = None,
        generator: nn.Module | None = None,
        discriminator: nn.Module | None = None,
        store=None,
        project: str | None = None,
        run_kind: str = "gan",
        parent: str | None = None,
        extra: dict[str, Any] | None = None,
        note: str = "",
    ):
        self.gen_arch, self.disc_arch = gen_arch, disc_arch
        self.config = config or GanConfig()
        self.config.validate()
        if gen_arch is not None and disc_arch is not None:
            problem = check_gan_pair(gen_arch, disc_arch)
            if problem is not None:
                raise problem
            _, noise_dim = noise_input_of(gen_arch)
            if self.config.noise_dim not in (None, noise_dim):
                raise BuilderError(
                    f"noise_dim {self.config.noise_dim} does not match the generator Input "
                    f"size {noise_dim}",
                    field="noise_dim",
                    hint="Leave noise_dim unset to take it from the generator.",
                )
            self.config.noise_dim = noise_dim
        if self.config.noise_dim is None:
            raise BuilderError(
                "noise_dim is needed when no generator graph is given", field="noise_dim"
            )
        self.images = gan_images(dataset)
        if disc_arch is not None:
            problem = check_gan_data(disc_arch, self.images)
            if problem is not None:
                raise problem
        self.dataset_name = getattr(dataset, "name", None)
        record = {
            "kind": run_kind,
            "project": project,
            "parent": parent,
            "extra": extra,
            "note": note or None,
        }
        self._init_run(run_id, store=store, record=record)
        self.device = resolve_device(self.config.device)
        torch.manual_seed(self.config.seed)
        if generator is None or discriminator is None:
            from builder.compile import compile_model

            generator = generator or compile_model(gen_arch)
            discriminator = discriminator or compile_model(disc_arch)
        self.generator: nn.Module = generator
        self.discriminator: nn.Module = discriminator
        self.history: dict[str, list[float]] = {k: [] for k in (*_WINDOW_KEYS, "diversity")}
        self.train_seconds = 0.0
        self.samples_seen = 0
        self.diversity: float | None = None
        self._samples: np.ndarray | None = None
        self._samples_step: int | None = None

    # ---- samples ----------------------------------------------------------------------

    def latest_samples(self) -> np.ndarray | None:
        """The latest fixed-noise samples as float32 (n, C, H, W) in [0, 1]; None before the first."""
        with self._lock:
            return None if self._samples is None else self._samples.copy()

    @property
    def samples_step(self) -> int | None:
        """The global step at which latest_samples() was taken."""
        return self._samples_step

    # ---- the run ------------------------------------------------------------------------

    start_message = "GAN training started"

    def _release_memory(self) -> None:
        self.__dict__.pop("_data", None)

    def _plain_message(self, err: BaseException) -> str:
        text = str(err).strip().splitlines()[0] if str(err).strip() else ""
        return f"GAN training stopped by an error: {type(err).__name__}: {text}"

    def _record_fields(self) -> dict[str, Any]:
        """The generator is the run's graph; the discriminator's graph rides in `extra`."""
        fields_: dict[str, Any] = {"config": self.config.to_dict(), "dataset": self.dataset_name}
        if self.gen_arch is not None and self.disc_arch is not None:
            from builder.codegen import generate_source

            fields_["graph"] = self.gen_arch.to_json()
            fields_["source"] = (
                generate_source(self.gen_arch) + "\n\n" + generate_source(self.disc_arch)
            )
            fields_["extra"] = {"discriminator_graph": self.disc_arch.to_json()}
        return fields_

    def _weights(self) -> dict[str, torch.Tensor]:
        """Both networks' tensors, prefixed generator. / discriminator."""
        tensors = {f"generator.{k}": v for k, v in self.generator.state_dict().items()}
        tensors.update(
            {f"discriminator.{k}": v for k, v in self.discriminator.state_dict().items()}
        )
        return tensors

    def _run_facts(self) -> dict[str, Any]:
        return {
            "epochs": self.config.epochs,
            "steps_per_epoch": self.steps_per_epoch(),
            "device": str(self.device),
            "task": "gan",
            "config": self.config.to_dict(),
        }

    def steps_per_epoch(self) -> int:
        """Full batches per epoch."""
        # Drop the last partial batch: a tiny batch makes BatchNorm1d noisy or fail.
        return max(1, len(self.images) // self.config.batch_size)

    def _setup(self) -> None:
        cfg, dev = self.config, self.device
        torch.manual_seed(cfg.seed)
        self.generator.to(dev).train()
        self.discriminator.to(dev).train()
        self._data = self.images.to(dev)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=cfg.lr_g, betas=cfg.betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=cfg.lr_d, betas=cfg.betas)
        self._rng = torch.Generator(device=dev).manual_seed(cfg.seed)
        self._fixed_noise = torch.randn(
            cfg.n_samples, cfg.noise_dim, device=dev, generator=self._rng
        )
        pick = torch.randperm(len(self._data), device=dev, generator=self._rng)[: cfg.n_samples]
        self._real_spread = mean_pairwise_distance(self._data[pick])
        bs = min(cfg.batch_size, len(self._data))
        self._ones = torch.ones(bs, 1, device=dev)
        self._zeros = torch.zeros(bs, 1, device=dev)

    def _train(self) -> None:
        self._setup()
        for epoch in range(1, self.config.epochs + 1):
            sums = self._train_epoch(epoch)
            self.epochs_done = epoch
            self._record_epoch(epoch, sums)

    def _train_epoch(self, epoch: int) -> list[float]:
        """One pass over the images; returns the epoch means of _WINDOW_KEYS."""
        cfg = self.config
        steps, bs = self.steps_per_epoch(), min(cfg.batch_size, len(self._data))
        perm = torch.randperm(len(self._data), device=self.device, generator=self._rng)
        window = torch.zeros(len(_WINDOW_KEYS), device=self.device)
        epoch_sums = [0.0] * len(_WINDOW_KEYS)
        window_steps, window_start, epoch_start = 0, time.perf_counter(), time.perf_counter()
        for step_in_epoch in range(steps):
            self._check_control()
            real = self._data[perm[step_in_epoch * bs : (step_in_epoch + 1) * bs]]
            window += self.train_step(real)
            self.global_step += 1
            window_steps += 1
            if self.global_step % cfg.sample_every == 0:
                self._refresh_samples()
            if window_steps == cfg.log_every or step_in_epoch == steps - 1:
                means = (window / window_steps).tolist()  # the one host sync per window
                self._check_finite(means)
                epoch_sums = [s + m * window_steps for s, m in zip(epoch_sums, means, strict=True)]
                rate = window_steps * bs / max(time.perf_counter() - window_start, 1e-9)
                self._publish(
                    "step",
                    epoch=epoch,
                    split="train",
                    loss=means[0],
                    samples_per_s=rate,
                    lr=cfg.lr_g,
                    diversity=self.diversity,
                    samples_step=self._samples_step,
                    **dict(zip(_WINDOW_KEYS, means, strict=True)),
                )
                window.zero_()
                window_steps, window_start = 0, time.perf_counter()
        self.train_seconds += time.perf_counter() - epoch_start
        self.samples_seen += steps * bs
        return [s / steps for s in epoch_sums]

    def train_step(self, real: torch.Tensor) -> torch.Tensor:
        """One discriminator step then one generator step; device tensor of _WINDOW_KEYS values."""
        n = len(real)
        ones, zeros = self._ones[:n], self._zeros[:n]
        noise = torch.randn(n, self.config.noise_dim, device=self.device, generator=self._rng)
        fake = self.generator(noise)
        # Discriminator: real -> 1, fake -> 0; detach so this step leaves G alone.
        real_logits = self.discriminator(real).reshape(n, 1)
        fake_logits = self.discriminator(fake.detach()).reshape(n, 1)
        loss_d = F.binary_cross_entropy_with_logits(
            real_logits, ones
        ) + F.binary_cross_entropy_with_logits(fake_logits, zeros)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # Generator, non-saturating: maximise log D(G(z)) rather than minimise log(1 - D(G(z))).
        gen_logits = self.discriminator(fake).reshape(n, 1)
        loss_g = F.binary_cross_entropy_with_logits(gen_logits, ones)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        with torch.no_grad():
            return torch.stack(
                [
                    loss_d.detach(),
                    loss_g.detach(),
                    torch.sigmoid(real_logits).mean(),
                    torch.sigmoid(fake_logits).mean(),
                ]
            )

    def _check_finite(self, means: list[float]) -> None:
        for key, value in zip(_WINDOW_KEYS, means, strict=True):
            if not math.isfinite(value):
                raise BuilderError(
                    f"{key} became {value} at step {self.global_step}",
                    field="lr_d" if key in ("loss_d", "d_real") else "lr_g",
                    hint="Lower the learning rates (try 1e-4).",
                )

    def _refresh_samples(self) -> float:
        """Generate the fixed-noise grid (eval mode) and measure its diversity."""
        was_training = self.generator.training
        self.generator.eval()
        with torch.no_grad():
            fake = self.generator(self._fixed_noise)
            diversity = float(mean_pairwise_distance(fake) / self._real_spread.clamp_min(1e-8))
            images = ((fake.float().clamp(-1, 1) + 1) / 2).cpu().numpy()
        self.generator.train(was_training)
        with self._lock:
            self._samples = images
            self._samples_step = self.global_step
        self.diversity = diversity
        return diversity

    def _record_epoch(self, epoch: int, means: list[float]) -> None:
        diversity = self._refresh_samples()
        for key, value in zip(_WINDOW_KEYS, means, strict=True):
            self.history[key].append(value)
        self.history["diversity"].append(diversity)
        rate = self.samples_seen / self.train_seconds if self.train_seconds else 0.0
        self._publish(
            "epoch",
            epoch=epoch,
            split="train",
            loss=means[0],
            samples_per_s=rate,
            lr=self.config.lr_g,
            diversity=diversity,
            **dict(zip(_WINDOW_KEYS, means, strict=True)),
        )

    # ---- results ------------------------------------------------------------------------

    def generate(self, n: int, seed: int = 0) -> np.ndarray:
        """n fresh samples (eval mode) as float32 (n, C, H, W) in [0, 1]."""
        noise = torch.randn(
            n, self.config.noise_dim, generator=torch.Generator().manual_seed(seed)
        ).to(self.device)
        was_training = self.generator.training
        self.generator.eval()
        with torch.no_grad():
            fake = self.generator(noise)
        self.generator.train(was_training)
        return ((fake.float().clamp(-1, 1) + 1) / 2).cpu().numpy()

    def summary(self) -> dict[str, Any]:
        """The final JSON dict: epochs, last epoch's losses and D outputs, diversity, speed."""
        h = self.history
        out: dict[str, Any] = {
            "run": self.run_id,
            "state": self.state,
            "task": "gan",
            "epochs": self.epochs_done,
            "diversity": self.diversity,
            "samples_per_s": self.samples_seen / self.train_seconds if self.train_seconds else 0.0,
            "train_seconds": self.train_seconds,
            "device": str(self.device),
        }
        for key in _WINDOW_KEYS:
            out[key] = h[key][-1] if h[key] else None
        if self.state in ("failed", "stopped"):
            out["message"] = self.message
        return out
