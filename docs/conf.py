"""Sphinx configuration of the skmoe documentation.

Build with ``sphinx-build -W -b html docs docs/_build/html`` (needs the
``docs`` extra: ``pip install "skmoe[docs]"``). The gallery runs every
``examples/plot_*.py`` script.
"""

import re
import sys
import warnings
from pathlib import Path

from threadpoolctl import threadpool_limits

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import skmoe  # noqa: E402

# The gallery's examples fit small models, for which multi-threaded BLAS only
# adds overhead; on a busy 2-core machine it made them about 4x slower. One
# thread per BLAS/OpenMP pool for the whole build (examples run in-process).
_THREAD_LIMITS = threadpool_limits(limits=1)

# -- Pages written by other contributors -------------------------------------
# The user guide's toctree lists them; until they exist, a stub with a title
# (and the label the estimators' docstrings refer to) keeps the build, and its
# -W, working. An existing page is never touched.
_PLACEHOLDERS = {
    "user_guide/hierarchical.rst": (
        ".. _hierarchical:\n\n"
        "Hierarchical mixtures of experts\n"
        "================================\n\n"
        "This page is being written.\n"
    ),
    "user_guide/solvers.rst": (
        "Choosing a solver\n=================\n\nThis page is being written.\n"
    ),
}
for _name, _text in _PLACEHOLDERS.items():
    try:
        with open(DOCS / _name, "x", encoding="utf-8") as _file:
            _file.write(_text)
    except FileExistsError:
        pass

# -- Project -----------------------------------------------------------------
project = "skmoe"
author = "skmoe developers"
copyright = "skmoe developers, BSD-3-Clause"
version = release = skmoe.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "matplotlib.sphinxext.plot_directive",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.md5"]
root_doc = "index"
default_role = "literal"

# -- autodoc / autosummary / numpydoc ------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# -- Gallery -------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"plot_",
    # The quick-start script is shown on its own page (quickstart.rst).
    "ignore_pattern": r"quickstart\.py|__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("skmoe",),
    "reference_url": {"skmoe": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "plot_gallery": "True",
}

# Examples run with the non-interactive backend and without repeated noise.
warnings.filterwarnings(
    "ignore",
    category=UserWarning,
    message="Matplotlib is currently using agg, which is a non-GUI backend",
)

# -- HTML ------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skmoe {release}"
html_static_path = ["_static"]
# The user guide's figures (``.. plot::``), drawn at build time.
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]
# Formulas render without internet: MathJax is bundled (see
# _static/mathjax/README.md) instead of loaded from a CDN, which left raw
# ``\[p(y \mid x)...\]`` on machines offline.
mathjax_path = "mathjax/tex-svg-full.js"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_align": "left",
}
html_sidebars = {"index": [], "install": [], "quickstart": [], "benchmarks": []}


def _skip_scikit_learn_members(app, what, name, obj, skip, options):
    """Leave out the members inherited from scikit-learn's base classes.

    ``get_params``, ``score``, the generated ``set_*_request`` methods and the
    like are documented by scikit-learn (their docstrings point to its own
    user guide); the pages of skmoe's classes list skmoe's methods, including
    those inherited from skmoe's base classes.
    """
    if name.startswith("set_") and name.endswith("_request"):
        return True
    module = getattr(obj, "__module__", None) or ""
    if module.startswith("sklearn."):
        return True
    return skip


_SHAPE = re.compile(r"of shape \(([^)]*)\)")
_TYPE_LINE = re.compile(r"^(\s*\*{0,2}\w[\w, ]* : )(.*)$")
_TRAILING_UNDERSCORE = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?![`\w])")


def _quote_fitted_names(app, what, name, obj, options, lines):
    """Write fitted-attribute names in types and shapes as literals.

    In reStructuredText ``n_iter_`` is a reference to a target named
    ``n_iter``; numpydoc types (scikit-learn's style) use such names bare, as
    in ``ndarray of shape (n_iter_,)`` or ``list of length n_features_in_``.
    """

    def quote(text):
        return _TRAILING_UNDERSCORE.sub(r"``\1``", text)

    def quote_shape(match):
        return f"of shape ({quote(match.group(1))})"

    out = []
    for line in lines:
        match = _TYPE_LINE.match(line)
        if match:
            line = match.group(1) + quote(match.group(2))
        else:
            line = _SHAPE.sub(quote_shape, line)
        out.append(line)
    lines[:] = out


def setup(app):
    app.connect("autodoc-skip-member", _skip_scikit_learn_members)
    # Before numpydoc (priority 500) turns the sections into reST.
    app.connect("autodoc-process-docstring", _quote_fitted_names, priority=400)
