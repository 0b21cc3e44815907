"""The layout of core/: no import cycles, every layer imports only what is below it, and the package
installs and runs from a wheel (docs/architecture.md describes the layers)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "core"

# Layer of each module prefix (the longest prefix wins); a module may import its own layer or lower.
LAYERS = {
    "core": 0, "core.errors": 0, "core.stats": 0, "core.units": 0, "core.runtime": 0, "core.select": 0, "core.median": 0,
    "core.io": 1,
    "core.readnoise": 2, "core.onef": 2, "core.refpix": 2, "core.rest2014": 2, "core.noisebudget": 2,
    "core.pipeline": 3,
    "core.render": 4,
    "core.report": 5,
    "core.cli": 6, "core.__main__": 6,
}
SECTIONS = ("core.readnoise", "core.onef", "core.refpix", "core.rest2014", "core.noisebudget")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def core_modules() -> dict[str, Path]:
    return {module_name(p): p for p in CORE.rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every core module ``name`` imports, at the top or inside a function (a lazy import is still a
    dependency).  ``from pkg import x`` counts as importing ``pkg.x`` when that is a module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        out.update(t for t in targets if t in known and t != name)
    return out


def graph() -> dict[str, set[str]]:
    mods = core_modules()
    return {n: imports_of(n, p, set(mods)) for n, p in mods.items()}


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(g.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (c := visit(m)):
                return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(g):
        if n not in state and (c := visit(n)):
            return c
    return None


def layer(name: str) -> int:
    best = max((p for p in LAYERS if name == p or name.startswith(p + ".")), key=len)
    return LAYERS[best]


def section_of(name: str) -> str | None:
    return next((s for s in SECTIONS if name == s or name.startswith(s + ".")), None)


def test_find_cycle_finds_one():
    """The checker itself: a cycle of three is reported, a chain is not."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle():
    g = graph()
    assert len(g) > 30  # the walk saw the package
    assert find_cycle(g) is None, f"import cycle: {' -> '.join(find_cycle(g))}"


def test_layers_import_only_downwards():
    bad = [f"{n} (layer {layer(n)}) imports {m} (layer {layer(m)})"
           for n, deps in graph().items() for m in deps if layer(m) > layer(n)]
    assert not bad, "\n".join(bad)


def test_sections_do_not_import_each_other():
    bad = [f"{n} imports {m}" for n, deps in graph().items() for m in deps
           if section_of(n) and section_of(m) and section_of(n) != section_of(m)]
    assert not bad, "\n".join(bad)


def test_no_private_name_imported_across_modules():
    mods = core_modules()
    bad = []
    for name, path in list(mods.items()) + [(f"pages.{p.stem}", p) for p in (ROOT / "pages").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("core"):
                bad += [f"{name}: from {node.module} import {a.name}" for a in node.names
                        if a.name.startswith("_") and a.name != "__version__"]
    assert not bad, "\n".join(bad)


def test_core_imports_no_streamlit_and_starts_no_threads_at_import():
    code = ("import threading, core.pipeline, core.report, core.render.overview, core.cli, sys; "
            "assert 'streamlit' not in sys.modules, 'streamlit imported'; "
            "print(threading.active_count())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "1", f"threads alive after import: {out.stdout}"


def test_modules_and_functions_stay_readable():
    """Every module under 600 lines and every function under 120, except those named (with the
    reason) in docs/architecture.md."""
    doc = (ROOT / "docs" / "architecture.md").read_text()
    long = []
    for name, path in core_modules().items():
        text = path.read_text()
        n = text.count("\n")
        if n > 600 and f"`{name}`" not in doc:
            long.append(f"module {name}: {n} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = node.end_lineno - node.lineno + 1
                if size > 120 and f"`{name}.{node.name}`" not in doc:
                    long.append(f"function {name}.{node.name}: {size} lines")
    assert not long, "\n".join(long)


@pytest.mark.timeout(900)
def test_wheel_builds_and_runs_from_another_folder(tmp_path):
    """``pip wheel .`` builds; the wheel installed in a new environment runs ``python -m core --help``
    from a folder that is not the checkout (the dependencies come from this environment's
    site-packages through a path entry, which does not load its editable-install hook)."""
    wheels = tmp_path / "wheels"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    (wheel,) = wheels.glob("nircam_darks-*.whl")
    env_dir = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    r = subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    deps = subprocess.run([sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "deps.pth").write_text(deps + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([str(py), "-c", "import core, sys; print(core.__file__)"], capture_output=True, text=True,
                       cwd=tmp_path, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert str(ROOT) not in r.stdout and site in r.stdout, r.stdout  # the wheel's copy, not the checkout
    r = subprocess.run([str(py), "-m", "core", "--help"], capture_output=True, text=True, cwd=tmp_path, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "analyze" in r.stdout and "report" in r.stdout
