"""Sphinx configuration of diffpy.crystalnet."""

import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

# Use the source tree when the package is not installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

project = "diffpy.crystalnet"
copyright = "%Y, The Trustees of Columbia University in the City of New York"
try:
    release = version("diffpy.crystalnet")
except PackageNotFoundError:
    release = "0.0.0+unknown"
version = ".".join(release.split(".")[:2])
today = time.strftime("%B %d, %Y")

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
]
numpydoc_show_class_members = False
autodoc_typehints = "none"
templates_path = []
exclude_patterns = []
source_suffix = ".rst"
master_doc = "index"
pygments_style = "sphinx"
html_theme = "sphinx_rtd_theme"
html_static_path = ["_static"]
