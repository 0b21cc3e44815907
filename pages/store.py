"""Stored results: what the result store holds, and deleting entries by any of their columns."""

from pathlib import Path

import pandas as pd
import streamlit as st

from core.errors import InputError
from core.io.inventory import data_root
from core.io.ramps import groupdq_names
from core.pipeline.store import ResultStore

st.title("Stored results")
store = ResultStore()
st.caption(f"Results are kept under `{store.root}`, keyed by the input files (path, size, modification time), "
           "the parameters and the app version: reopening the app shows them at once. A changed file is "
           "recomputed. Results computed with `python -m core analyze` into the same store are here too.")
entries = store.entries()
if not entries:
    st.info("Nothing is stored yet.")
    st.stop()


def _shown_folder(folder: str) -> str:
    """A folder under the data root as the Data page shows it; any other one as it is."""
    try:
        return str(Path(folder).relative_to(data_root())) or "."
    except (ValueError, InputError):
        return folder


def _params(p) -> str:
    if not isinstance(p, dict):
        return str(p)
    return ", ".join(f"GROUPDQ left out={groupdq_names(int(v))}" if k == "groupdq_mask" else f"{k}={v}"
                     for k, v in p.items() if k != "type")


table = pd.DataFrame([{
    "date": e.get("created", ""), "what": e.get("label") or e["kind"], "detector": e.get("detector") or "?",
    "kind": e["kind"],
    "folder": ", ".join(_shown_folder(f) for f in e.get("folders") or []) or "?", "files": len(e.get("files", [])),
    "parameters": _params(e.get("params")), "size (MB)": e["size_mb"], "version": e.get("version", ""),
    "key": e["key"]} for e in entries])

c1, c2, c3 = st.columns(3)
filters = {"detector": c1.multiselect("Detector", sorted(table["detector"].unique()), key="store_f_det"),
           "kind": c2.multiselect("Kind", sorted(table["kind"].unique()), key="store_f_kind"),
           "folder": c3.multiselect("Folder", sorted(table["folder"].unique()), key="store_f_folder")}
c4, c5 = st.columns(2)
filters["parameters"] = c4.multiselect("Parameters", sorted(table["parameters"].unique()), key="store_f_params")
filters["version"] = c5.multiselect("App version", sorted(table["version"].unique()), key="store_f_version")
shown = table
for col, chosen in filters.items():
    if chosen:
        shown = shown[shown[col].isin(chosen)]
st.dataframe(shown.drop(columns=["key"]), hide_index=True, width="stretch",
             column_config={"parameters": st.column_config.TextColumn(width="large")})
st.caption(f"{len(shown)} of {len(table)} entries shown, {shown['size (MB)'].sum():.1f} MB.")

if st.button(f"Delete the {len(shown)} entr{'y' if len(shown) == 1 else 'ies'} shown", disabled=shown.empty,
             key="store_delete", help="Narrow the table with the filters above first."):
    n = sum(store.delete(k) for k in shown["key"])
    st.cache_resource.clear()  # the in-memory copies of those results go too
    st.success(f"Deleted {n} entr{'y' if n == 1 else 'ies'}.")
    st.rerun()
