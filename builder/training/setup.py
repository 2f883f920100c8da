"""How the Trainer prepares a run: data on the device, the loss for the task, the forward pass."""

from __future__ import annotations

import torch

from builder.augment import AugmentConfig
from builder.errors import BuilderError
from builder.training.parts import kl_terms, make_loss, primary_output


class TrainerSetupMixin:
    """Expects `self.model`, `self.dataset`, `self.config`, `self.device` and `self._publish`."""

    def _load_data(self) -> None:
        ds = self.dataset
        self.x_train = ds.x_train.to(self.device)
        self.y_train = ds.y_train.to(self.device)
        self.x_val = ds.x_val.to(self.device)
        self.y_val = ds.y_val.to(self.device)

    def _release_memory(self) -> None:
        # The data copies on the device are only needed while training.
        for name in ("x_train", "y_train", "x_val", "y_val"):
            self.__dict__.pop(name, None)

    def _make_loss(self):
        return make_loss(self.config.loss, self.dataset, self._output_width())

    def _output_width(self) -> int | None:
        with torch.no_grad():
            was_training = self.model.training
            self.model.eval()
            out = primary_output(self.model(self.x_train[:2]))
            self.model.train(was_training)
        return int(out.shape[-1]) if out.dim() > 1 else None

    def _make_forward(self):
        """The training forward: the model's first output (the one the loss compares)."""
        model = self.model
        if self.config.compile:
            model = self._compiled_or_eager()
        if self.config.amp and self.device.type == "cuda":

            def forward(x):
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    return primary_output(model(x))

            return forward
        return lambda x: primary_output(model(x))

    def _compiled_or_eager(self):
        """torch.compile the model, or say why not and train eagerly (no compiler, no Triton...)."""
        compiled = torch.compile(self.model)
        try:
            # Compilation happens on the first call; do it now, forward and backward.
            out = primary_output(compiled(self.x_train[: self.config.batch_size]))
            out.float().sum().backward()
        except Exception as err:
            self.model.zero_grad(set_to_none=True)
            self._publish(
                "status",
                state="running",
                message=f"torch.compile is not available here ({type(err).__name__}); training without it",
            )
            return self.model
        self.model.zero_grad(set_to_none=True)
        return compiled

    def augment_config(self) -> AugmentConfig:
        cfg = self.config
        return AugmentConfig(cfg.augment_shift, cfg.augment_hflip, cfg.augment_noise)

    def _compute_loss(self, out, y):
        if self.binary:
            loss = self.loss_fn(out.reshape(-1).float(), y.float())
        else:
            loss = self.loss_fn(out.float(), y)
        if self.config.kl_weight:
            for term in kl_terms(self.model):  # written by the forward pass just run
                loss = loss + self.config.kl_weight * term.float()
        return loss

    def frozen_nodes(self) -> list[str]:
        """Nodes whose weights stay fixed (graph JSON `"trainable": false`)."""
        if self.arch is None:
            return []
        return [n for n in self.arch.node_ids if not self.arch.trainable_of(n)]

    def _frozen_modules(self) -> list[torch.nn.Module]:
        """The model's submodules for the frozen nodes."""
        frozen = self.frozen_nodes()
        if not frozen:
            return []
        from builder.codegen import attribute_names

        names = attribute_names(self.arch)
        found = (getattr(self.model, names.get(node, node), None) for node in frozen)
        return [module for module in found if module is not None]

    def keep_frozen_norms_fixed(self) -> None:
        """Call after model.train(): a frozen layer's batch-norm statistics stay as loaded.

        requires_grad alone froze the weights, but train mode still moved the running mean
        and variance to the new data (36 images in the walkthrough), so the frozen features
        drifted away from what the layers after them had learned.
        """
        for module in self._frozen_modules():
            for part in module.modules():
                if isinstance(part, torch.nn.modules.batchnorm._NormBase):
                    part.eval()

    def _trainable_parameters(self) -> list[torch.nn.Parameter]:
        """Freeze the frozen nodes (requires_grad off) and return what the optimizer updates."""
        for module in self._frozen_modules():
            module.requires_grad_(False)
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise BuilderError(
                "every layer with weights is frozen, so there is nothing to train",
                field="trainable",
                hint="Unfreeze at least one layer (its trainable switch).",
            )
        return params
