"""Compare mixtures of experts with the models a user would pick instead.

Real regression and classification data sets, 5-fold cross-validation with the
same folds for every model (``KFold`` / ``StratifiedKFold``, ``shuffle=True``,
``random_state=0``). Each cell is the mean +- standard deviation over the five
test folds of R^2 (regression) or accuracy (classification), and the mean fit
time per fold in CPU seconds of the (single-threaded) process, which a busy
machine inflates much less than wall-clock time (also kept in the JSON).

Every hyperparameter below was fixed *a priori* (library defaults or common
choices, never tuned on these data or on the test folds); this compares models
as a user would first try them, not their tuned optimum.

Models
------
* ``MoE linear``: ``StandardScaler`` + ``MixtureOfExpertsRegressor`` /
  ``MixtureOfExpertsClassifier`` with their defaults: 3 linear experts
  (``LinearRegression`` / ``LogisticRegression``), one EM run (``n_init=1``).
* ``MoE tree``: the same with 3 ``DecisionTree*(max_depth=3)`` experts.
* ``HME``: ``StandardScaler`` + ``HierarchicalMixtureOfExperts*`` with its
  defaults (depth 2, branching 2: 4 linear experts), when skmoe has it at run
  time (skipped with a note otherwise).
* ``Linear``: ``StandardScaler`` + ``LinearRegression`` / ``LogisticRegression``.
* ``DecisionTree``: ``min_samples_leaf=5``.
* ``RandomForest``: 100 trees.
* ``HistGradientBoosting``: defaults.
* ``MLP``: ``StandardScaler`` + ``MLP*(hidden_layer_sizes=(64,), max_iter=1000)``
  (regression: standardised target, ``TransformedTargetRegressor``).
* ``LinearTree``: ``lineartree.LinearTreeRegressor(LinearRegression())``
  with its defaults, when the ``linear-tree`` package is installed.

Data
----
Regression: mcycle, yacht, energy, concrete, abalone (``skmoe.datasets``) and
wine-quality-red (``benchmarks/data/``, UCI). Classification: vowel
(``skmoe.datasets``) and Statlog Satellite (``benchmarks/data/``), subsampled
to 2000 stratified rows (``--full`` keeps all 6435) to keep a full run within
about 15 minutes on 2 cores.

Every model runs single-threaded (BLAS/OpenMP thread pools limited to 1,
``n_jobs=None``), so fit times compare the algorithms, not their parallelism.

Run::

    python benchmarks/bench_compare.py                 # everything (~15 min, 2 cores)
    python benchmarks/bench_compare.py --quick         # a subset (about a minute)
    python benchmarks/bench_compare.py --json results.json --rst table.rst
    python benchmarks/bench_compare.py --datasets mcycle vowel --models "MoE linear"
"""

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils.validation import validate_data
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import skmoe  # noqa: E402
from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor  # noqa: E402
from skmoe.datasets import (  # noqa: E402
    load_abalone,
    load_concrete,
    load_energy,
    load_mcycle,
    load_vowel,
    load_yacht,
)

DATA_DIR = Path(__file__).resolve().parent / "data"
N_SPLITS = 5
SATELLITE_ROWS = 2000
QUICK_DATASETS = ("mcycle", "yacht", "vowel")


# ----------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------
def load_wine_red():
    """UCI wine quality (red): 1599 x 11, target ``quality`` (column 11)."""
    values = np.loadtxt(DATA_DIR / "wine-quality-red.txt")
    return values[:, :11], values[:, 11]


def load_satellite(full=False):
    """Statlog Landsat satellite (mlbench): 6435 x 36, 6 classes.

    Subsampled to ``SATELLITE_ROWS`` rows, stratified, unless ``full``.
    """
    frame = pd.read_csv(DATA_DIR / "Satellite.csv")
    X = frame.drop(columns="classes").to_numpy(dtype=np.float64)
    y = frame["classes"].to_numpy(dtype=object)
    if not full and SATELLITE_ROWS < y.size:
        rng = np.random.RandomState(0)
        keep = []
        for label in np.unique(y):
            rows = np.flatnonzero(y == label)
            n_keep = round(rows.size * SATELLITE_ROWS / y.size)
            keep.append(rng.choice(rows, size=n_keep, replace=False))
        keep = np.sort(np.concatenate(keep))
        X, y = X[keep], y[keep]
    return X, y


def datasets(full=False):
    """name -> (task, loader returning X, y)."""
    return {
        "mcycle": ("regression", lambda: load_mcycle(return_X_y=True)),
        "yacht": ("regression", lambda: load_yacht(return_X_y=True)),
        "energy": ("regression", lambda: load_energy(return_X_y=True)),
        "concrete": ("regression", lambda: load_concrete(return_X_y=True)),
        "wine-red": ("regression", load_wine_red),
        "abalone": ("regression", lambda: load_abalone(return_X_y=True)),
        "vowel": ("classification", lambda: load_vowel(return_X_y=True)),
        "satellite": ("classification", lambda: load_satellite(full)),
    }


# ----------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------
def _linear_tree_regressor():
    """``LinearTreeRegressor``, patched for scikit-learn >= 1.6 if needed.

    linear-tree 0.3.5 calls ``self._validate_data``, which scikit-learn 1.6
    removed; the subclass restores it on top of ``validate_data``.
    """
    try:
        from lineartree import LinearTreeRegressor
    except ImportError:
        return None, "linear-tree is not installed (pip install linear-tree)"

    if hasattr(LinearTreeRegressor, "_validate_data"):
        return LinearTreeRegressor(base_estimator=LinearRegression()), None

    class PatchedLinearTreeRegressor(LinearTreeRegressor):
        def _validate_data(self, X, y="no_validation", reset=True, **kwargs):
            if "force_all_finite" in kwargs:  # renamed in scikit-learn 1.6
                kwargs["ensure_all_finite"] = kwargs.pop("force_all_finite")
            return validate_data(self, X, y, reset=reset, **kwargs)

    PatchedLinearTreeRegressor.__name__ = "LinearTreeRegressor"
    return PatchedLinearTreeRegressor(base_estimator=LinearRegression()), (
        "linear-tree 0.3.5 with a small compatibility shim for scikit-learn "
        ">= 1.6 (_validate_data -> validate_data, force_all_finite -> "
        "ensure_all_finite)"
    )


def regression_models():
    """name -> estimator (or None) and notes on skipped/patched models."""
    notes = {}
    models = {
        "MoE linear (K=3)": make_pipeline(
            StandardScaler(),
            MixtureOfExpertsRegressor(n_experts=3, random_state=0),
        ),
        "MoE tree d3 (K=3)": MixtureOfExpertsRegressor(
            n_experts=3, expert=DecisionTreeRegressor(max_depth=3), random_state=0
        ),
    }
    hme = getattr(skmoe, "HierarchicalMixtureOfExpertsRegressor", None)
    if hme is not None:
        models["HME (4 linear experts)"] = make_pipeline(
            StandardScaler(), hme(random_state=0)
        )
    else:
        notes["HME"] = "skmoe has no HierarchicalMixtureOfExpertsRegressor yet"
    models.update(
        {
            "Linear": make_pipeline(StandardScaler(), LinearRegression()),
            "DecisionTree": DecisionTreeRegressor(min_samples_leaf=5, random_state=0),
            "RandomForest": RandomForestRegressor(n_estimators=100, random_state=0),
            "HistGradientBoosting": HistGradientBoostingRegressor(random_state=0),
            "MLP": TransformedTargetRegressor(
                make_pipeline(
                    StandardScaler(),
                    MLPRegressor(
                        hidden_layer_sizes=(64,), max_iter=1000, random_state=0
                    ),
                ),
                transformer=StandardScaler(),
            ),
        }
    )
    linear_tree, note = _linear_tree_regressor()
    if linear_tree is not None:
        models["LinearTree"] = linear_tree
    if note:
        notes["LinearTree"] = note
    return models, notes


def classification_models():
    notes = {}
    models = {
        "MoE linear (K=3)": make_pipeline(
            StandardScaler(),
            MixtureOfExpertsClassifier(n_experts=3, random_state=0),
        ),
        "MoE tree d3 (K=3)": MixtureOfExpertsClassifier(
            n_experts=3, expert=DecisionTreeClassifier(max_depth=3), random_state=0
        ),
    }
    hme = getattr(skmoe, "HierarchicalMixtureOfExpertsClassifier", None)
    if hme is not None:
        models["HME (4 linear experts)"] = make_pipeline(
            StandardScaler(), hme(random_state=0)
        )
    else:
        notes["HME"] = "skmoe has no HierarchicalMixtureOfExpertsClassifier yet"
    models.update(
        {
            "Linear": make_pipeline(
                StandardScaler(), LogisticRegression(max_iter=1000)
            ),
            "DecisionTree": DecisionTreeClassifier(min_samples_leaf=5, random_state=0),
            "RandomForest": RandomForestClassifier(n_estimators=100, random_state=0),
            "HistGradientBoosting": HistGradientBoostingClassifier(random_state=0),
            "MLP": make_pipeline(
                StandardScaler(),
                MLPClassifier(hidden_layer_sizes=(64,), max_iter=1000, random_state=0),
            ),
        }
    )
    return models, notes


# ----------------------------------------------------------------------------
# Running
# ----------------------------------------------------------------------------
def run_one(model, X, y, task):
    cv = (
        KFold(N_SPLITS, shuffle=True, random_state=0)
        if task == "regression"
        else StratifiedKFold(N_SPLITS, shuffle=True, random_state=0)
    )
    score = r2_score if task == "regression" else accuracy_score
    scores, cpu_times, wall_times = [], [], []
    with warnings.catch_warnings():
        # MLP and EM convergence warnings are part of the a-priori settings.
        warnings.simplefilter("ignore")
        for train, test in cv.split(X, y):
            estimator = clone(model)
            cpu, wall = time.process_time(), time.perf_counter()
            estimator.fit(X[train], y[train])
            cpu_times.append(time.process_time() - cpu)
            wall_times.append(time.perf_counter() - wall)
            scores.append(score(y[test], estimator.predict(X[test])))
    return np.array(scores), np.array(cpu_times), np.array(wall_times)


def _matches(model_name, wanted):
    """Whether ``--models`` entry ``wanted`` selects ``model_name``: the whole
    table name, or its first words (``"MoE linear"`` for ``"MoE linear (K=3)"``)."""
    return model_name == wanted or model_name.startswith(wanted + " ")


def run(dataset_names, model_filter, full, verbose=True):
    records, notes = [], {}
    all_data = datasets(full)
    for name in dataset_names:
        task, loader = all_data[name]
        X, y = loader()
        models, model_notes = (
            regression_models() if task == "regression" else classification_models()
        )
        notes.update({f"{key} ({task})": value for key, value in model_notes.items()})
        for model_name, model in models.items():
            if model_filter and not any(
                _matches(model_name, wanted) for wanted in model_filter
            ):
                continue
            record = {
                "dataset": name,
                "task": task,
                "n_samples": int(X.shape[0]),
                "n_features": int(X.shape[1]),
                "model": model_name,
            }
            t0 = time.perf_counter()
            try:
                scores, cpu_times, wall_times = run_one(model, X, y, task)
            except Exception as exc:  # report, do not stop the whole run
                record["error"] = f"{type(exc).__name__}: {exc}"
            else:
                record.update(
                    scores=scores.tolist(),
                    mean=float(scores.mean()),
                    std=float(scores.std()),
                    fit_cpu_mean=float(cpu_times.mean()),
                    fit_cpu_std=float(cpu_times.std()),
                    fit_wall_mean=float(wall_times.mean()),
                )
            record["wall_time"] = time.perf_counter() - t0
            records.append(record)
            if verbose:
                status = (
                    f"{record['mean']:.3f} +- {record['std']:.3f}, "
                    f"fit {record['fit_cpu_mean']:.2f}s CPU"
                    if "error" not in record
                    else record["error"][:100]
                )
                wall = record["wall_time"]
                print(
                    f"[{wall:6.1f}s] {name:<10s} {model_name:<22s} {status}",
                    file=sys.stderr,
                    flush=True,
                )
    return records, notes


# ----------------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------------
def _cells(records, dataset_names, value):
    models = list(dict.fromkeys(r["model"] for r in records))
    by_key = {(r["model"], r["dataset"]): r for r in records}
    rows = []
    for model in models:
        row = [model]
        for name in dataset_names:
            record = by_key.get((model, name))
            if record is None:
                row.append("")
            elif "error" in record:
                row.append("failed")
            else:
                row.append(value(record))
        rows.append(row)
    return rows


BASELINE = "RandomForest"


def _score_cell(record):
    return f"{record['mean']:.3f} ± {record['std']:.3f}"


def _time_cell(record):
    return f"{record['fit_cpu_mean']:.2f}"


def _ratio_cell(records):
    """Fit time relative to ``BASELINE`` on the same data set, same run."""
    baseline = {
        r["dataset"]: r["fit_cpu_mean"]
        for r in records
        if r["model"] == BASELINE and "error" not in r
    }

    def cell(record):
        base = baseline.get(record["dataset"])
        if not base:
            return ""
        return f"{record['fit_cpu_mean'] / base:.2g}"

    return cell


def _tables(records, rst=False):
    r2 = "R\\ :sup:`2`" if rst else "R^2"
    return [
        (
            f"Test score: {r2} (regression) or accuracy (classification), "
            "mean ± std over 5 folds",
            _score_cell,
        ),
        ("Mean fit time per fold (CPU seconds, one thread)", _time_cell),
        (
            f"Fit time relative to {BASELINE} (same data set, same run)",
            _ratio_cell(records),
        ),
    ]


def _header(records, dataset_names):
    info = {r["dataset"]: r for r in records}
    return [
        f"{name} ({info[name]['n_samples']}x{info[name]['n_features']})"
        for name in dataset_names
        if name in info
    ]


def _present(records, dataset_names):
    return [n for n in dataset_names if any(r["dataset"] == n for r in records)]


def markdown_tables(records, dataset_names):
    dataset_names = _present(records, dataset_names)
    out = []
    for title, value in _tables(records):
        header = ["model"] + _header(records, dataset_names)
        rows = _cells(records, dataset_names, value)
        out.append(f"**{title}**\n")
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "|".join("---" for _ in header) + "|")
        out.extend("| " + " | ".join(row) + " |" for row in rows)
        out.append("")
    return "\n".join(out)


def rst_tables(records, dataset_names):
    """The same tables as RST ``list-table`` directives."""
    dataset_names = _present(records, dataset_names)
    out = []
    for title, value in _tables(records, rst=True):
        header = ["model"] + _header(records, dataset_names)
        rows = _cells(records, dataset_names, value)
        out += [f".. list-table:: {title}", "   :header-rows: 1"]
        out += ["   :stub-columns: 1", ""]
        for row in [header] + rows:
            out.append(f"   * - {row[0]}")
            out.extend(f"     - {cell}" for cell in row[1:])
        out.append("")
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"only {', '.join(QUICK_DATASETS)}"
    )
    parser.add_argument("--datasets", nargs="+", help="data sets to run")
    parser.add_argument(
        "--models",
        nargs="+",
        help="models to run: table names, or their first words ('MoE linear')",
    )
    parser.add_argument(
        "--full", action="store_true", help="use all 6435 Satellite rows"
    )
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    parser.add_argument("--rst", metavar="PATH", help="write the tables as RST")
    parser.add_argument(
        "--from-json",
        metavar="PATH",
        help="print (and --rst) the tables of an earlier --json run; run nothing",
    )
    args = parser.parse_args(argv)

    if args.from_json:
        payload = json.loads(Path(args.from_json).read_text())
        records = payload["records"]
        names = list(dict.fromkeys(r["dataset"] for r in records))
        print(markdown_tables(records, names))
        if args.rst:
            Path(args.rst).write_text(rst_tables(records, names))
        return

    names = list(datasets())
    if args.datasets:
        unknown = set(args.datasets) - set(names)
        if unknown:
            parser.error(f"unknown data sets {sorted(unknown)}; choose from {names}")
        names = [n for n in names if n in args.datasets]
    elif args.quick:
        names = list(QUICK_DATASETS)
    if args.models:
        known = list(
            dict.fromkeys([*regression_models()[0], *classification_models()[0]])
        )
        unknown = [m for m in args.models if not any(_matches(k, m) for k in known)]
        if unknown:
            parser.error(f"unknown models {unknown}; choose from {known}")

    t0, cpu0 = time.perf_counter(), time.process_time()
    with threadpool_limits(limits=1):
        records, notes = run(names, args.models, args.full)
    total, total_cpu = time.perf_counter() - t0, time.process_time() - cpu0

    print(markdown_tables(records, names))
    for key, note in notes.items():
        print(f"- {key}: {note}")
    print(
        f"\nTotal {total:.0f}s wall-clock, {total_cpu:.0f}s CPU; Python "
        f"{platform.python_version()}, scikit-learn {sklearn.__version__}, "
        f"skmoe {skmoe.__version__}, {platform.machine()}."
    )
    if args.json:
        payload = {
            "records": records,
            "notes": notes,
            "total_seconds": total,
            "total_cpu_seconds": total_cpu,
            "python": platform.python_version(),
            "sklearn": sklearn.__version__,
            "skmoe": skmoe.__version__,
            "machine": platform.machine(),
            "n_splits": N_SPLITS,
            "satellite_rows": None if args.full else SATELLITE_ROWS,
        }
        Path(args.json).write_text(json.dumps(payload, indent=2))
    if args.rst:
        Path(args.rst).write_text(rst_tables(records, names))


if __name__ == "__main__":
    main()
