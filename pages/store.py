"""Stored results: what the result store holds, and deleting entries."""

import pandas as pd
import streamlit as st

from core.pipeline.store import ResultStore

st.title("Stored results")
store = ResultStore()
st.caption(f"Results are kept under `{store.root}`, keyed by the input files (path, size, modification time), "
           "the parameters and the app version: reopening the app shows them at once. A changed file is "
           "recomputed.")
entries = store.entries()
if not entries:
    st.info("Nothing is stored yet.")
    st.stop()
table = pd.DataFrame([{"created": e["created"], "what": e.get("label") or e["kind"], "kind": e["kind"],
                       "files": len(e["files"]), "size (MB)": e["size_mb"], "version": e["version"],
                       "key": e["key"]} for e in entries])
st.dataframe(table.drop(columns=["key"]), hide_index=True, width="stretch")
labels = {f"{r.created}  {r.what}  ({r.key[:8]})": r.key for r in table.itertuples()}
chosen = st.multiselect("Delete", list(labels), key="store_delete_choice")
if st.button(f"Delete {len(chosen)} entr{'y' if len(chosen) == 1 else 'ies'}", disabled=not chosen,
             key="store_delete"):
    n = sum(store.delete(labels[c]) for c in chosen)
    st.cache_resource.clear()  # the in-memory copies of those results go too
    st.success(f"Deleted {n} entr{'y' if n == 1 else 'ies'}.")
    st.rerun()
