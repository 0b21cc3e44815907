"""The one section registry: every part of the app that lists, runs, stores or shows a section
(the CLI, the pipeline, the pages, the report, the overview, the result store) finds it here.

A section is a subpackage of ``core`` with a frozen ``Params`` class (``.validate()``), an
``analyze(paths, params, progress=...)`` function and a result with ``.summary()`` and
``.tables()``.  Its ``name`` is its one key everywhere: the result store's kind, the app's cache
kind, the ``summary.json`` key and the prefix of its timing (``<name>_s``).  Adding a section is one
folder and one line here.

On a Dask cluster (:mod:`core.pipeline.cluster`) a section runs as one task per detector group,
unless it names a ``split`` module: then one ``plan(paths, params)`` task (headers), one
``partial(plan, i, params)`` task per file and one ``reduce(plan, partials, params)`` task, whose
result must equal ``analyze(paths, params)``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class SectionSpec:
    """Where a section lives and what it is called."""

    name: str  # the key: store kind, cache kind, summary.json key
    title: str  # shown in the pages and the report
    module: str  # the subpackage, e.g. "core.onef"
    analyze: str  # name of its analyze(paths, params, progress=...) function
    params: str  # name of its frozen Params class
    split: str | None = None  # module with plan / partial / reduce: per-file tasks on a cluster

    @property
    def store_key(self) -> str:
        """The kind under which its results are stored (the same for the app and the CLI)."""
        return self.name

    def load(self):
        """(analyze function, Params class), importing the section's package."""
        mod = importlib.import_module(self.module)
        return getattr(mod, self.analyze), getattr(mod, self.params)

    def analyze_function(self):
        return self.load()[0]

    def params_class(self):
        return self.load()[1]

    def split_module(self):
        """The module of its per-file split (plan, partial, reduce), or None: one task per group."""
        return importlib.import_module(self.split) if self.split else None

    def default_params(self):
        return self.params_class()()


READNOISE = SectionSpec("readnoise", "Readnoise", "core.readnoise", "analyze_readnoise", "ReadnoiseParams")
ONEF = SectionSpec("onef", "1/f noise", "core.onef", "analyze_onef", "OneFParams", split="core.onef.partial")
REFPIX = SectionSpec("refpix", "Reference pixels", "core.refpix", "analyze_refpix", "RefPixParams",
                     split="core.refpix.partial")
REST2014 = SectionSpec("readnoise_rest2014", "Readnoise (Rest et al. 2014)", "core.rest2014", "analyze_rest2014",
                       "Rest2014Params")
NOISEBUDGET = SectionSpec("noisebudget", "Noise budget", "core.noisebudget", "analyze_noisebudget", "NoiseBudgetParams")

SECTIONS: tuple[SectionSpec, ...] = (ONEF, REFPIX, REST2014, NOISEBUDGET)  # the sections beside readnoise, report order
ALL_SECTIONS: tuple[SectionSpec, ...] = (READNOISE, *SECTIONS)
_BY_NAME = {s.name: s for s in ALL_SECTIONS}


def section(name: str) -> SectionSpec:
    """The section called ``name``; KeyError naming the known ones otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no section {name!r}; the sections are {', '.join(_BY_NAME)}") from None


__all__ = ["ALL_SECTIONS", "NOISEBUDGET", "ONEF", "READNOISE", "REFPIX", "REST2014", "SECTIONS", "SectionSpec", "section"]
