"""NIRCam darks report app: page navigation only; each page is a short script in pages/."""

import streamlit as st

from pages._ui import warm_engine

st.set_page_config(page_title="NIRCam darks", page_icon=":material/dark_mode:", layout="wide")

pages = {
    "Inputs": [st.Page("pages/data.py", title="Data", icon=":material/folder_open:", default=True)],
    "Sections": [
        st.Page("pages/overview.py", title="Overview", icon=":material/grid_view:"),
        st.Page("pages/readnoise.py", title="Readnoise", icon=":material/grain:"),
        st.Page("pages/onef.py", title="1/f noise", icon=":material/graphic_eq:"),
        st.Page("pages/refpix.py", title="Reference pixels", icon=":material/border_outer:"),
        st.Page("pages/noisebudget.py", title="Noise budget", icon=":material/stacked_line_chart:"),
    ],
    "Results": [st.Page("pages/report.py", title="Report", icon=":material/description:"),
                st.Page("pages/store.py", title="Stored results", icon=":material/inventory_2:")],
}
try:
    st.navigation(pages).run()
finally:  # also when the page stops early (st.stop) or reruns
    warm_engine()  # once per server, after the first page is drawn: the first Compute does not pay it
