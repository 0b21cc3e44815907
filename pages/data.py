"""Data: choose dark exposures under the data root; header inventory and validation."""

from dataclasses import replace

import pandas as pd
import streamlit as st

from core.errors import InputError
from core.io.inventory import find_files, group_by_detector, list_subfolders
from pages import _ui as ui

st.title("Data")
root = ui.root_or_stop()
st.caption(f"Data root: `{root}` (set by the server; the browser can only pick inside it).")

c1, c2 = st.columns([2, 1])
folders = list_subfolders(root)
# Start in the first folder that holds ramps (an epoch folder of the demo data, typically).
start = next((i for i, f in enumerate(folders) if any((root / f).glob("*_uncal.fits"))), 0)
folder = c1.selectbox("Folder", folders, index=start, format_func=lambda f: f or "(data root)", key="data_folder")
pattern = c2.text_input("File pattern", value="*_uncal.fits", key="data_glob",
                        help="A glob within the folder, e.g. *_nrca1_uncal.fits. No path separators.")
recursive = st.checkbox("Include subfolders", value=False, key="data_recursive")

try:
    paths = find_files(root, folder, pattern)
    if recursive:
        for sub in [f for f in folders if f != folder and (folder == "" or f.startswith(folder + "/"))]:
            paths += find_files(root, sub, pattern)
except InputError as e:
    st.error(str(e))
    st.stop()

if not paths:
    st.warning(f"No file matches `{pattern}` in `{folder or '(data root)'}`.")
    st.stop()

infos = [replace(i, notes=list(i.notes)) for i in ui.inspect_all(paths)]
groups, rejected = group_by_detector(infos, merge_folders=ui.merge_folders())


def shown_path(info) -> str:
    """The file as the user reads it: its folder under the data root, then its name."""
    return str(info.path.relative_to(root))


table = pd.DataFrame([{"path": shown_path(i)} | i.row() | {"folder": str(i.path.parent.relative_to(root)) or "."}
                      for i in infos])

st.subheader("Inventory")
st.caption("From the FITS headers only; no pixels are read here.")
ok = table[table["status"] == "ok"]
f1, f2, f3 = st.columns(3)
dets = f1.multiselect("Detector", sorted(ok["detector"].dropna().unique()), key="flt_det")
pats = f2.multiselect("Readout pattern", sorted(ok["readpatt"].dropna().unique()), key="flt_readpatt")
subs = f3.multiselect("Subarray", sorted(ok["subarray"].dropna().unique()), key="flt_subarray")
folders_ok = sorted(ok["folder"].unique())
flds = st.multiselect("Folder", folders_ok, key="flt_folder") if len(folders_ok) > 1 else []

shown = ok
for col, chosen in (("detector", dets), ("readpatt", pats), ("subarray", subs), ("folder", flds)):
    if chosen:
        shown = shown[shown[col].isin(chosen)]
st.dataframe(shown.drop(columns=["status"]), hide_index=True, width="stretch")
st.download_button("Inventory (CSV)", table.to_csv(index=False).encode(), "inventory.csv", "text/csv", on_click="ignore")

if rejected:
    st.subheader(f"Rejected files ({len(rejected)})")
    st.caption("These files are skipped; every other file proceeds.")
    st.dataframe(pd.DataFrame([{"file": f.name, "folder": str(f.path.parent.relative_to(root)), "reason": f.reason}
                               for f in rejected]), hide_index=True, width="stretch")

st.subheader("Selection")
by_path = {shown_path(i): i for i in infos}  # files are paths: two folders may hold the same names
exclude = st.multiselect("Leave out", list(shown["path"]), key="data_exclude",
                         help="Files shown above are used unless left out here (folder/name).")
chosen = [str(by_path[p].path) for p in shown["path"] if p not in exclude]
st.checkbox("Merge folders", key=ui.MERGE_FOLDERS,
            help="Analyse files of one detector from several folders as one group. By default each folder is its "
                 "own group (two epochs, or a ground and a flight copy, are never mixed).")
if st.button(f"Use these {len(chosen)} files", type="primary", disabled=not chosen, key="data_use"):
    st.session_state[ui.SELECTED] = chosen
    st.session_state.pop("active_group", None)

current = ui.selected_paths()
if current:
    sel_groups, _ = ui.selected_groups()
    st.success(f"{len(current)} files selected: " +
               ", ".join(f"**{g.label}** ({len(g.files)})" for g in sel_groups))
    notes = sorted({n for g in sel_groups for f in g.files for n in f.notes})
    for n in notes:
        st.info(n)
    st.page_link("pages/readnoise.py", label="Compute readnoise", icon=":material/arrow_forward:")
else:
    st.info("Nothing selected yet: filter the inventory, then press **Use these files**.")
