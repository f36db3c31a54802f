"""Build the Lambda layers (python3.12, arm64) from pyproject.toml, without Docker.

    .venv/bin/python layers/build.py            # both layers; instant when nothing changed
    .venv/bin/python layers/build.py --force    # rebuild even if the cache says it is current

Output (the CDK app's layer assets):
    layers/build/api/python   pyproject's `dependencies` (the light API layer)
    layers/build/data/python  the `data` extra, minus every distribution the API layer already ships
                              (data functions get both layers; versions are pinned to the API layer's)

Each layer is cached by a hash of its requirement set, the target platform and this script's trim
rules (`layers/build/<name>.sha256`), so a second run does nothing.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "layers" / "build"
LAYERS = ("api", "data")

PYTHON_VERSION = "3.12"  # the Lambda runtime python3.12
# Lambda's python3.12 runtime is Amazon Linux 2023 (glibc 2.34) on arm64: manylinux2014 (= 2_17) and every
# newer manylinux up to 2_34 run there. pyarrow ships only manylinux_2_28 wheels for aarch64.
PLATFORMS = ("manylinux2014_aarch64", *(f"manylinux_2_{minor}_aarch64" for minor in range(17, 35)))
# Bump when the trim rules change so cached layers are rebuilt.
BUILD_VERSION = "4"

# What Lambda never needs: byte-code caches (it writes none to /opt), tests, C/Cython sources and headers.
TRIM_DIR_NAMES = {"__pycache__", "tests"}
TRIM_SUFFIXES = {".pyc", ".pyo", ".pyx", ".pxd", ".pxi", ".h", ".hpp", ".c", ".cc", ".cpp"}
# Directories under a package that hold only build inputs.
TRIM_PACKAGE_DIRS = ("pyarrow/include", "pyarrow/src", "numpy/_core/include", "numpy/core/include")
# Files nothing here loads, removed so that a data function (code + both layers) stays under Lambda's 250 MB:
# Arrow Flight (RPC; about 30 MB; pyarrow.flight then fails to import), pyarrow's C++ test module, the
# unversioned and fully versioned copies of pyarrow's own libraries (the loader wants the SONAME
# `libarrow_python.so.N` only; wheels cannot hold symlinks, so each name is a full copy) and zstandard's
# cffi backend (the C backend is the default on CPython).
PRUNE_GLOBS = (
    "pyarrow/*flight*",
    "pyarrow/_pyarrow_cpp_tests*",
    "pyarrow/libarrow_python*.so",
    "pyarrow/libarrow_python*.so.*.*.*",
    "zstandard/_cffi.*.so",
)


def requirement_sets(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, list[str]]:
    """The requirement list of each layer, read from pyproject.toml."""
    project = tomllib.loads(pyproject.read_text())["project"]
    return {"api": list(project["dependencies"]), "data": list(project["optional-dependencies"]["data"])}


def cache_key(name: str, requirements: list[str], constraints: list[str]) -> str:
    payload = {
        "layer": name,
        "requirements": sorted(requirements),
        "constraints": sorted(constraints),
        "python": PYTHON_VERSION,
        "platforms": PLATFORMS,
        "build": BUILD_VERSION,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed(site: Path) -> dict[str, tuple[str, Path]]:
    """Distributions in a target directory: normalized name -> (version, dist-info path)."""
    found = {}
    for info in site.glob("*.dist-info"):
        meta = (info / "METADATA").read_text(errors="replace")
        name = re.search(r"^Name: (.+)$", meta, re.M)
        version = re.search(r"^Version: (.+)$", meta, re.M)
        if name and version:
            found[_normalize(name.group(1).strip())] = (version.group(1).strip(), info)
    return found


def pip_install(target: Path, requirements: list[str], constraints: Path | None = None) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    cmd += ["--implementation", "cp", "--python-version", PYTHON_VERSION, "--only-binary=:all:"]
    for platform in PLATFORMS:
        cmd += ["--platform", platform]
    cmd += ["--target", str(target)]
    if constraints is not None:
        cmd += ["--constraint", str(constraints)]
    subprocess.run([*cmd, *requirements], check=True)  # noqa: S603 (our own interpreter and arguments)


def remove_distribution(site: Path, info: Path) -> None:
    """Delete every file a distribution installed (from its RECORD), then its empty directories."""
    with (info / "RECORD").open(newline="") as fh:
        paths = [site / row[0] for row in csv.reader(fh) if row]
    dirs = set()
    for path in paths:
        path = path.resolve()
        if site.resolve() not in path.parents:
            continue  # a RECORD entry outside the target (console scripts in ../bin)
        dirs.add(path.parent)
        path.unlink(missing_ok=True)
    for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
        while d != site.resolve() and d.exists() and not any(d.iterdir()):
            d.rmdir()
            d = d.parent
    shutil.rmtree(info, ignore_errors=True)


def trim(site: Path) -> None:
    """Remove what Lambda does not need; RECORD files may then list missing files, which is harmless."""
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts
    for rel in TRIM_PACKAGE_DIRS:
        shutil.rmtree(site / rel, ignore_errors=True)
    for pattern in PRUNE_GLOBS:
        for path in site.glob(pattern):
            path.unlink()
    for path in sorted(site.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and path.name in TRIM_DIR_NAMES:
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and path.suffix in TRIM_SUFFIXES:
            path.unlink()


def dir_size(path: Path) -> int:
    """Bytes of every regular file under `path` (what the unzipped layer occupies)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def build_layer(name: str, requirements: list[str], api_site: Path | None, force: bool) -> Path:
    """Build one layer into layers/build/<name>/python unless its cache key is unchanged."""
    site = BUILD / name / "python"
    constraints: list[str] = []
    if api_site is not None:
        constraints = sorted(f"{n}=={v}" for n, (v, _) in installed(api_site).items())
    key = cache_key(name, requirements, constraints)
    stamp = BUILD / f"{name}.sha256"
    if not force and site.is_dir() and stamp.is_file() and stamp.read_text().strip() == key:
        print(f"layer {name}: up to date ({dir_size(site) / 1e6:.1f} MB)")
        return site

    work = BUILD / f".tmp-{name}"
    shutil.rmtree(work, ignore_errors=True)
    tmp_site = work / "python"
    tmp_site.mkdir(parents=True)
    print(f"layer {name}: installing {len(requirements)} requirement(s) for python{PYTHON_VERSION} arm64")
    if api_site is None:
        pip_install(tmp_site, requirements)
    else:
        # Resolve with the API layer's versions pinned, then drop what the API layer already ships.
        pins = work / "constraints.txt"
        pins.write_text("\n".join(constraints) + "\n")
        pip_install(tmp_site, requirements, constraints=pins)
        shipped = installed(api_site)
        for dist, (version, info) in installed(tmp_site).items():
            if dist in shipped and shipped[dist][0] == version:
                remove_distribution(tmp_site, info)
    trim(tmp_site)

    shutil.rmtree(BUILD / name, ignore_errors=True)
    (BUILD / name).mkdir(parents=True)
    tmp_site.rename(site)
    shutil.rmtree(work, ignore_errors=True)
    stamp.write_text(key + "\n")
    print(f"layer {name}: built ({dir_size(site) / 1e6:.1f} MB)")
    return site


def build_all(force: bool = False) -> dict[str, Path]:
    """Build (or reuse) both layers; returns layer name -> its `python` directory."""
    reqs = requirement_sets()
    api = build_layer("api", reqs["api"], None, force)
    data = build_layer("data", reqs["data"], api, force)
    return {"api": api, "data": data}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when the cache is current")
    args = parser.parse_args(argv)
    build_all(force=args.force)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
