"""The live colour scale: fixed at the run's first snapshot, logarithmic."""

from __future__ import annotations

from builder.diagram import anchored_scale, heat_colours


def test_anchored_log_scale_lets_a_falling_gradient_norm_change_colour():
    first = {"conv1": {"grad_norm": 1e-2}, "fc1": {"grad_norm": 1e-1}}
    scale = anchored_scale(first, "grad_norm")
    assert scale is not None and scale.log
    later = {"conv1": {"grad_norm": 1e-3}, "fc1": {"grad_norm": 1e-2}}
    before, after = heat_colours(first, "grad_norm", scale), heat_colours(later, "grad_norm", scale)
    assert before["conv1"] != after["conv1"] and before["fc1"] != after["fc1"]
    # Re-fitted to each snapshot (no fixed scale), the colours would not move at all.
    assert heat_colours(first, "grad_norm") == heat_colours(later, "grad_norm")
