"""LayerCraft: build a network by dragging layers, train it live, export PyTorch code.

Thin on purpose: page layout and wiring only; every piece lives in components/.
"""

import streamlit as st

from components import state
from components.canvas_view import render_canvas
from components.compress_view import render_compress_view
from components.dashboard import render_train_tab
from components.export_tab import render_export
from components.gan_panel import render_gan_panel
from components.guard import guarded
from components.import_panel import render_import_panel
from components.inspector import render_inspector
from components.layout import header, setup_page
from components.palette import render_palette
from components.project import render_project
from components.runs_view import render_runs_tab
from components.search_view import render_search_tab
from components.summary import render_summary

setup_page()
state.init_session()

with st.sidebar:
    guarded("Project", render_project)
    guarded("Import", render_import_panel)
    st.divider()
    guarded("Palette", render_palette)

header()
state.show_notices()
build, train, gan, runs, search, export, compress = st.tabs(
    [
        ":material/account_tree: Build",
        ":material/monitoring: Train",
        ":material/auto_awesome: GAN",
        ":material/history: Runs",
        ":material/travel_explore: Search",
        ":material/download: Export",
        ":material/compress: Compress",
    ]
)

with build:
    canvas_col, inspector_col = st.columns([3, 1.15], gap="medium")
    with canvas_col:
        guarded("Canvas", render_canvas)  # its toolbar has Auto-layout, direction, SVG, PNG
    with inspector_col:
        guarded("Inspector", render_inspector)
    guarded("Summary", lambda: render_summary(state.arch(), state.analysis()))

with train:
    guarded("Train", render_train_tab)

with gan:
    guarded("GAN", render_gan_panel)

with runs:
    guarded("Runs", render_runs_tab)

with search:
    guarded("Search", render_search_tab)

with export:
    guarded("Export", render_export)

with compress:
    guarded("Compress", render_compress_view)
