"""LayerCraft: build a network by dragging layers, train it live, export PyTorch code.

Thin on purpose: page layout and wiring only; every piece lives in components/.
"""

import streamlit as st

from components import state
from components.build_tab import remember_page_facts, render_build_tab
from components.compress_view import render_compress_view
from components.dashboard import keep_training_going, render_train_tab
from components.export_tab import render_export
from components.gan_panel import render_gan_panel
from components.guard import guarded
from components.import_panel import render_import_panel
from components.layout import BUILD_TAB, TAB_KEY, header, setup_page
from components.palette import render_palette
from components.project import render_project
from components.runs_view import render_runs_tab
from components.search_view import render_search_tab
from components.train_settings import uploads_in_use

setup_page()
state.init_session()

with st.sidebar:
    guarded("Project", render_project)
    guarded("Import", render_import_panel)
    st.divider()
    guarded("Palette", render_palette)

header()
state.show_notices()
# Only the open tab runs (Streamlit reruns on a tab switch): the Build tab's edits then
# rerun the canvas, not five other tabs, and the first load draws one tab. Their widgets
# keep their values while closed (persist_state), and what the Train tab's poll did for a
# running or queued run goes on from keep_training_going().
OTHER_TABS = {
    ":material/monitoring: Train": ("Train", render_train_tab),
    ":material/auto_awesome: GAN": ("GAN", render_gan_panel),
    ":material/history: Runs": ("Runs", render_runs_tab),
    ":material/travel_explore: Search": ("Search", render_search_tab),
    ":material/download: Export": ("Export", render_export),
    ":material/compress: Compress": ("Compress", render_compress_view),
}
build, *others = st.tabs([BUILD_TAB, *OTHER_TABS], key=TAB_KEY, on_change="rerun")

with build:
    remember_page_facts()
    render_build_tab()

# The Train tab also runs closed while it holds uploaded data files: a file uploader that
# is not drawn forgets its files.
train_drawn = others[0].open or uploads_in_use()
for tab, (title, render) in zip(others, OTHER_TABS.values(), strict=True):
    if tab.open or (title == "Train" and train_drawn):
        with tab:
            guarded(title, render)
if not train_drawn:
    guarded("Train", keep_training_going)
