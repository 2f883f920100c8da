"""A VAE with a Reparameterize node and named Outputs, opened, trained and exported in a browser."""

from __future__ import annotations

import json
import re

import pytest

from .conftest import screenshot
from .test_app_browser import node, open_app

pytestmark = pytest.mark.e2e


def vae_document() -> dict:
    """digits VAE: the recon Output first (what training compares), then mu and logvar."""
    layers = [
        ("flat", "Flatten", {}, ["x"]),
        ("fc1", "Linear", {"out_features": 32}, ["flat"]),
        ("relu1", "ReLU", {}, ["fc1"]),
        ("fc_mu", "Linear", {"out_features": 4}, ["relu1"]),
        ("fc_logvar", "Linear", {"out_features": 4}, ["relu1"]),
        ("z", "Reparameterize", {}, ["fc_mu", "fc_logvar"]),
        ("fc2", "Linear", {"out_features": 64}, ["z"]),
        ("sigmoid", "Sigmoid", {}, ["fc2"]),
        ("image", "Unflatten", {"unflattened_size": [1, 8, 8]}, ["sigmoid"]),
        ("recon", "Output", {}, ["image"]),
        ("mu", "Output", {}, ["fc_mu"]),
        ("logvar", "Output", {}, ["fc_logvar"]),
    ]
    nodes = [{"id": "x", "type": "Input", "params": {"shape": [1, 8, 8]}}]
    edges = []
    for node_id, type_name, params, sources in layers:
        nodes.append({"id": node_id, "type": type_name, "params": params})
        edges += [{"source": s, "target": node_id, "target_port": i} for i, s in enumerate(sources)]
    return {"format": "layercraft", "version": 1, "name": "VAE", "nodes": nodes, "edges": edges}


def test_vae_with_named_outputs_opens_and_exports(page, app_url, tmp_path):
    frame = open_app(page, app_url)
    path = tmp_path / "vae.json"
    path.write_text(json.dumps(vae_document()))
    page.get_by_test_id("stSidebar").locator("input[type=file][accept*='.json']").set_input_files(
        str(path)
    )
    page.get_by_text("Opened “VAE” from vae.json.").wait_for(timeout=15_000)
    for node_id in ("z", "recon", "mu", "logvar"):
        node(frame, node_id).wait_for()
    assert "(4,)" in node(frame, "z").inner_text()
    assert "(1, 8, 8)" in node(frame, "recon").inner_text()
    screenshot(page, "vae_named_outputs")

    page.get_by_role("tab", name=re.compile("Export")).click()
    page.get_by_text("return image, fc_mu, fc_logvar").first.wait_for()
    page.get_by_text("self.z_kl = ").first.scroll_into_view_if_needed()
    screenshot(page, "vae_export_code")
