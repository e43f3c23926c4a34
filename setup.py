"""The import names live under ``pluralign.*`` only, while the user's top-level folders stay where they
are: ``theory/`` is installed as ``pluralign.theory``, ``sims/`` as ``pluralign.sims``, ``experiments/`` as
``pluralign.experiments`` and ``paper_figures/`` as ``pluralign.paper_figures`` (setuptools' package-dir
map; works for regular and editable installs). Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

FOLDERS = {
    "pluralign.theory": "theory",
    "pluralign.sims": "sims",
    "pluralign.experiments": "experiments",
    "pluralign.paper_figures": "paper_figures",
}

packages = find_packages(include=["pluralign", "pluralign.*"])
for name, folder in FOLDERS.items():
    packages += [name] + [f"{name}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir={"pluralign": "pluralign", **FOLDERS})
