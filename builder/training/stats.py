"""Per-layer statistics (gradient and weight norms, update ratio, activations, dead units).

Taken every `stats_every` steps with hooks that exist only for that step, and read back to
the host in a single transfer.
"""

from __future__ import annotations

import torch
from torch import nn

# Activation types whose zero outputs count as "dead" units in the per-layer stats.
_RELU_LIKE = (nn.ReLU, nn.ReLU6)


class LayerStatsMixin:
    """The Trainer's per-layer statistics; expects `self.model`, `self.arch`, `self.global_step`."""

    def _node_names(self) -> dict[str, str]:
        """Top-level module attribute -> node id (identity when there is no graph)."""
        names = {}
        if self.arch is not None:
            try:
                from builder.codegen import attribute_names

                names = {attr: node for node, attr in attribute_names(self.arch).items()}
            except ImportError:
                names = {}
        for attr, _ in self.model.named_children():
            names.setdefault(attr, attr)
        return names

    def _add_activation_hooks(self):
        captured: dict[str, torch.Tensor] = {}
        handles = []
        for attr, module in self.model.named_children():

            def hook(mod, inputs, output, attr=attr):
                if isinstance(output, torch.Tensor) and output.is_floating_point():
                    out = output.detach().float()
                    values = [out.mean(), out.std() if out.numel() > 1 else out.new_zeros(())]
                    if isinstance(mod, _RELU_LIKE) and out.dim() > 1:
                        values.append((out <= 0).all(dim=0).float().mean())
                    captured[attr] = torch.stack(values)

            handles.append(module.register_forward_hook(hook))
        return handles, captured

    def _weights_before_step(self) -> dict[str, list[torch.Tensor]]:
        return {
            attr: [p.detach().clone() for p in module.parameters()]
            for attr, module in self.model.named_children()
            if any(True for _ in module.parameters())
        }

    def _collect_stats(self, hooks, before) -> None:
        handles, captured = hooks
        for handle in handles:
            handle.remove()
        names, rows = [], []
        for attr, module in self.model.named_children():
            params = list(module.parameters())
            row = []
            if params:
                grads = [p.grad for p in params if p.grad is not None]
                weight = torch.linalg.vector_norm(torch.stack([p.detach().norm() for p in params]))
                grad = (
                    torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
                    if grads
                    else weight.new_zeros(())
                )
                update = torch.linalg.vector_norm(
                    torch.stack(
                        [(p.detach() - b).norm() for p, b in zip(params, before[attr], strict=True)]
                    )
                )
                row += [grad, weight, update / (weight + 1e-12)]
            names.append((attr, bool(params), captured.get(attr)))
            rows.append(row)
        flat = [t.float() for row in rows for t in row]
        flat += [c for _, _, c in names if c is not None]
        values = torch.cat([t.reshape(-1) for t in flat]).tolist() if flat else []
        stats: dict[str, dict[str, float]] = {}
        pos = 0
        for attr, has_params, _ in names:
            if has_params:
                grad, weight, ratio = values[pos : pos + 3]
                pos += 3
                stats[self.node_of_attr.get(attr, attr)] = {
                    "grad_norm": grad,
                    "weight_norm": weight,
                    "update_ratio": ratio,
                }
        for attr, _, act in names:
            if act is None:
                continue
            entry = stats.setdefault(self.node_of_attr.get(attr, attr), {})
            entry["act_mean"], entry["act_std"] = values[pos], values[pos + 1]
            pos += 2
            if act.numel() == 3:
                entry["dead_fraction"] = values[pos]
                pos += 1
        self.layer_stats = stats
        self.first_layer_stats = self.first_layer_stats or stats
        self.layer_stats_step = self.global_step
