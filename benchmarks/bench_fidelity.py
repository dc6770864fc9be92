"""Fidelity of the default fit, and held-out scores of candidate gate penalties.

Two tables (issue 13, parts 2 and 8).

1. Fidelity: does a fit with default settings reach the maximum-likelihood
   optimum? For each classic data set and number of experts K, the total
   training log-likelihood ``log_likelihood_`` of
   ``MixtureOfExpertsRegressor(n_experts=K, random_state=s)`` (linear experts,
   every other setting at its default) over ``--seeds`` seeds (min, median,
   max), beside

   * the published optimum where there is one (mcycle K=2 -614.537, K=3
     -580.517, tonedata K=2 142.848: the README of ``../shared/data`` beside
     the repository, and issue 13),
   * the best of ``--starts`` fits from random responsibilities with an
     unpenalised gate (``init_params="random"``, ``SoftmaxGate(C=np.inf)``,
     seeds 0, 1, ...), a reference optimum computed in the same run (so the
     table also works where nothing is published), with the number of those
     starts within 0.01 of their best,
   * R's flexmix, when ``Rscript`` and the flexmix package are installed:
     the best of 20 starts of ``stepFlexmix(y ~ x, k=K, nrep=20,
     concomitant=FLXPmultinom(~x))`` (all features in both formulas;
     ``tolerance=1e-8``, flexmix's other defaults: ``iter.max=200``, and
     components whose prior falls below ``minprior=0.05`` are removed, so the
     table gives the number kept; exactly collinear features are dropped
     first, which R's ``lm`` cannot fit). flexmix scales each expert's
     variance by n/(n-p), so its log-likelihood is a little below the exact
     optimum of the same basin. Skipped, with a note, without R or flexmix.

   The best known value is the highest of all these and of the default
   fits themselves; the gap is that minus the default fits' median. Times
   are CPU seconds of one fit (median over seeds; mean over random starts;
   flexmix's ``system.time`` of all its 20 starts).
   Data (``skmoe.datasets``): mcycle (accel ~ times, K=2, 3), tonedata
   (tuned ~ stretchratio, K=2), yacht and energy (all features, K=2, 3).
   Features and target are used as they are (the log-likelihood of linear
   experts under an unpenalised gate does not depend on affine maps of X;
   the default gate standardises internally).

2. Held-out: the decision table for the default gate penalty. 5-fold
   shuffled cross-validation (``KFold`` / ``StratifiedKFold``,
   ``shuffle=True``, ``random_state=0``; the same folds for every
   candidate) of ``StandardScaler`` + ``MixtureOfExpertsRegressor`` /
   ``MixtureOfExpertsClassifier(n_experts=3, random_state=0,
   gate=SoftmaxGate(C=c))`` for each candidate ``c`` of ``--candidates``
   (default 1, 100, 1e4, inf), the library's default (no ``gate`` argument,
   ``default``) and one linear model (``linear``: ``LinearRegression`` /
   ``LogisticRegression(max_iter=1000)``, also after ``StandardScaler``).
   Per data set and candidate: the held-out log-likelihood per row (mean over
   folds of ``score_samples(X_test, y_test).mean()``; the linear regression
   is scored as a Gaussian with the training residual variance, the logistic
   regression by minus its log-loss), with its worst fold; R^2 or accuracy,
   with its worst fold (a catastrophic fold stays visible: "!" marks a fold
   with R^2 < 0); and the mean fit time per fold in CPU seconds. The best
   mixture candidate per data set (held-out log-likelihood, or score) is in
   bold, and the last column gives each row's mean rank over the data sets.

   When the library default turns out to be one of the candidates (same
   fitted gate parameters and an identical fit on the first fold of each
   data set), its other folds are not fitted again: its row repeats that
   candidate's (a note says so; ``--no-alias`` fits it anyway).

   Data: regression mcycle, tonedata, yacht, energy, concrete, abalone (Sex
   one-hot, as ``load_abalone`` returns it), red wine quality
   (``benchmarks/data``), power-plant (``benchmarks/data``, **subsampled to
   3000 of its 9568 rows**, fixed seed); classification vowel (all 990 rows,
   cross-validated rather than the customary speaker split; the speaker id
   is not a feature) and Statlog Satellite (**subsampled to 2000 of 6435
   rows**, stratified, as in ``bench_compare.py``).

Everything runs single-threaded (BLAS through threadpoolctl, numba's
``NUMBA_NUM_THREADS=1``); numba kernels are compiled before any timing.
Warnings (convergence, overflow) are counted, not shown, and listed after
the tables with the fits that stopped at ``max_iter`` and any failures.

Run::

    python benchmarks/bench_fidelity.py                 # both tables (~10 min, 2 cores)
    python benchmarks/bench_fidelity.py --quick         # a subset (a minute or two)
    python benchmarks/bench_fidelity.py --table heldout --candidates 1 100 inf default
    python benchmarks/bench_fidelity.py --json fidelity.json --rst fidelity.rst
    python benchmarks/bench_fidelity.py --from-json fidelity.json   # tables only
"""

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import sklearn  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, log_loss, r2_score  # noqa: E402
from sklearn.model_selection import KFold, StratifiedKFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_compare import SATELLITE_ROWS, load_satellite, load_wine_red  # noqa: E402

import skmoe  # noqa: E402
from skmoe import (  # noqa: E402
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    SoftmaxGate,
)
from skmoe.datasets import (  # noqa: E402
    load_abalone,
    load_concrete,
    load_energy,
    load_mcycle,
    load_tonedata,
    load_vowel,
    load_yacht,
)

DATA_DIR = Path(__file__).resolve().parent / "data"
N_SPLITS = 5
POWER_PLANT_ROWS = 3000
N_EXPERTS = 3
HIT_TOL = 0.01  # a random start "hits" the best when within this of it
# An expert whose noise variance is below this fraction of the training
# target's variance has collapsed onto repeated target values (a spike whose
# density, and held-out log-likelihood, is bounded only by the variance floor).
SPIKE_RATIO = 1e-5
EARLY_STOP = 5  # EM runs that stop after this many iterations or fewer

# Published maximum-likelihood optima (total log-likelihood).
KNOWN_OPTIMA = {
    ("mcycle", 2): -614.537,
    ("mcycle", 3): -580.517,
    ("tonedata", 2): 142.848,
}
FIDELITY_CASES = (
    ("mcycle", 2),
    ("mcycle", 3),
    ("tonedata", 2),
    ("yacht", 2),
    ("yacht", 3),
    ("energy", 2),
    ("energy", 3),
)
QUICK_FIDELITY_CASES = (("mcycle", 2), ("mcycle", 3), ("tonedata", 2))
QUICK_HELDOUT = ("mcycle", "tonedata", "yacht", "vowel")
DEFAULT_CANDIDATES = ("1", "100", "1e4", "inf", "default", "linear")


# ----------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------
def load_power_plant():
    """UCI combined cycle power plant: 9568 x 4, target ``PE`` (column 4),
    subsampled to ``POWER_PLANT_ROWS`` random rows (seed 0)."""
    values = np.loadtxt(DATA_DIR / "power-plant.txt")
    rng = np.random.RandomState(0)
    keep = np.sort(rng.choice(values.shape[0], POWER_PLANT_ROWS, replace=False))
    return values[keep, :4], values[keep, 4]


def _xy(loader):
    return lambda: loader(return_X_y=True)


HELDOUT_DATASETS = {
    "mcycle": ("regression", _xy(load_mcycle)),
    "tonedata": ("regression", _xy(load_tonedata)),
    "yacht": ("regression", _xy(load_yacht)),
    "energy": ("regression", _xy(load_energy)),
    "concrete": ("regression", _xy(load_concrete)),
    "abalone": ("regression", _xy(load_abalone)),
    "wine-red": ("regression", load_wine_red),
    "power-plant": ("regression", load_power_plant),
    "vowel": ("classification", _xy(load_vowel)),
    "satellite": ("classification", load_satellite),
}
FIDELITY_DATASETS = {
    "mcycle": _xy(load_mcycle),
    "tonedata": _xy(load_tonedata),
    "yacht": _xy(load_yacht),
    "energy": _xy(load_energy),
}


# ----------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------
def _cpu_fit(model, X, y):
    """Fit, returning (CPU seconds, wall seconds, warning categories)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cpu, wall = time.process_time(), time.perf_counter()
        model.fit(X, y)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu, wall, [w.category.__name__ for w in caught]


def _finite(value):
    return value is not None and math.isfinite(value)


def warm_up():
    """Compile the numba kernels before any timing."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 2))
    y = X[:, 0] + rng.normal(size=60)
    labels = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for gate in (None, SoftmaxGate(C=np.inf)):
            for init in ("kmeans", "random"):
                MixtureOfExpertsRegressor(
                    2, gate=gate, init_params=init, random_state=0
                ).fit(X, y).score_samples(X, y)
                MixtureOfExpertsClassifier(
                    2, gate=gate, init_params=init, random_state=0
                ).fit(X, labels).score_samples(X, labels)


# ----------------------------------------------------------------------------
# Table 1: fidelity
# ----------------------------------------------------------------------------
R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(flexmix))
d <- read.csv(args[1])
K <- as.integer(args[2]); nrep <- as.integer(args[3])
set.seed(as.integer(args[4]))
xs <- setdiff(names(d), "y")
f <- as.formula(paste("y ~", paste(xs, collapse = " + ")))
fc <- as.formula(paste("~", paste(xs, collapse = " + ")))
t <- system.time(m <- stepFlexmix(f, data = d, k = K, nrep = nrep,
    concomitant = FLXPmultinom(fc), verbose = FALSE,
    control = list(tolerance = 1e-8)))
cat(sprintf("RESULT %.6f %d %d %s %.3f %.3f\n", as.numeric(logLik(m)), m@k,
    m@iter, m@converged, t[["elapsed"]], t[["user.self"]] + t[["sys.self"]]))
cat(sprintf("VERSION %s %s\n", as.character(packageVersion("flexmix")),
    R.version$version.string))
"""


def flexmix_available():
    """(True, None) when Rscript and the flexmix package are there, else
    (False, reason)."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return False, "Rscript is not on PATH"
    try:
        check = subprocess.run(
            [rscript, "-e", "library(flexmix)"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"Rscript failed: {exc}"
    if check.returncode != 0:
        return False, "the R package flexmix is not installed"
    return True, None


def independent_columns(X):
    """Indices of the columns of X kept, left to right, while they raise the
    rank of ``[1, X]`` (R's ``lm`` inside flexmix gives NA coefficients, and
    flexmix stops, on exactly collinear columns; dropping them changes
    neither the experts' nor the gate's column space)."""
    kept = []
    base = np.ones((X.shape[0], 1))
    for j in range(X.shape[1]):
        trial = np.column_stack([base, X[:, kept + [j]]])
        if np.linalg.matrix_rank(trial) == trial.shape[1]:
            kept.append(j)
    return kept


def run_flexmix(X, y, k, nrep=20, seed=0, timeout=600):
    """Best of ``nrep`` flexmix starts; a dict, or one with ``error``."""
    kept = independent_columns(X)
    dropped = [j for j in range(X.shape[1]) if j not in kept]
    X = X[:, kept]
    with tempfile.TemporaryDirectory() as tmp:
        frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
        frame["y"] = y
        frame.to_csv(Path(tmp) / "data.csv", index=False, float_format="%.17g")
        (Path(tmp) / "fit.R").write_text(R_SCRIPT)
        try:
            out = subprocess.run(
                [
                    "Rscript",
                    str(Path(tmp) / "fit.R"),
                    str(Path(tmp) / "data.csv"),
                    str(k),
                    str(nrep),
                    str(seed),
                ],
                capture_output=True,
                text=True,
                timeout=timeout,
                env={**os.environ, "OMP_NUM_THREADS": "1"},
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout}s"}
    result = {"dropped_columns": dropped}
    for line in out.stdout.splitlines():
        parts = line.split()
        if parts[:1] == ["RESULT"]:
            result.update(
                log_likelihood=float(parts[1]),
                k_kept=int(parts[2]),
                n_iter=int(parts[3]),
                converged=parts[4] == "TRUE",
                wall=float(parts[5]),
                cpu=float(parts[6]),
            )
        elif parts[:1] == ["VERSION"]:
            result["version"] = " ".join(parts[1:])
    if "log_likelihood" not in result:
        lines = (out.stderr or out.stdout).strip().splitlines()
        error = [line for line in lines if line.startswith("Error")][:1] or lines[-3:]
        return {"error": " / ".join(error) or f"Rscript exit {out.returncode}"}
    return result


def _fit_seeds(make_model, seeds, X, y):
    """Fit ``make_model(seed)`` for each seed; the log-likelihoods, CPU
    times, iterations, convergence, warnings and errors of the fits."""
    fits = {"ll": [], "cpu": [], "n_iter": [], "converged": [], "warnings": []}
    for seed in seeds:
        model = make_model(seed)
        try:
            cpu, _, caught = _cpu_fit(model, X, y)
        except Exception as exc:
            fits.setdefault("errors", []).append(f"{type(exc).__name__}: {exc}")
            continue
        fits["ll"].append(float(model.log_likelihood_))
        fits["cpu"].append(cpu)
        fits["n_iter"].append(int(model.n_iter_))
        fits["converged"].append(bool(model.converged_))
        fits["warnings"].extend(caught)
    return fits


def run_fidelity(cases, n_seeds, n_starts, flexmix, nrep=20, verbose=True):
    records = []
    for name, k in cases:
        X, y = FIDELITY_DATASETS[name]()
        record = {
            "dataset": name,
            "k": k,
            "n_samples": int(X.shape[0]),
            "n_features": int(X.shape[1]),
            "known_optimum": KNOWN_OPTIMA.get((name, k)),
        }
        t0 = time.perf_counter()
        default = record["default"] = _fit_seeds(
            lambda seed, k=k: MixtureOfExpertsRegressor(n_experts=k, random_state=seed),
            range(n_seeds),
            X,
            y,
        )
        starts = _fit_seeds(
            lambda seed, k=k: MixtureOfExpertsRegressor(
                n_experts=k,
                gate=SoftmaxGate(C=np.inf),
                init_params="random",
                random_state=seed,
            ),
            range(n_starts),
            X,
            y,
        )
        record["random_starts"] = starts

        if flexmix:
            record["flexmix"] = run_flexmix(X, y, k, nrep=nrep)
        record["wall_time"] = time.perf_counter() - t0
        records.append(record)
        if verbose:
            d = np.array(default["ll"]) if default["ll"] else np.array([np.nan])
            s = np.array(starts["ll"]) if starts["ll"] else np.array([np.nan])
            fm = record.get("flexmix", {}).get("log_likelihood", float("nan"))
            print(
                f"[{record['wall_time']:6.1f}s] {name:<9s} K={k} default median "
                f"{np.median(d):.3f}, best random start {np.max(s):.3f}, "
                f"flexmix {fm:.3f}",
                file=sys.stderr,
                flush=True,
            )
    return records


def _reference(record):
    """The best known log-likelihood: the highest of the published optimum,
    the random starts, flexmix and the default fits themselves."""
    values = [record["known_optimum"], record.get("flexmix", {}).get("log_likelihood")]
    values += record["random_starts"]["ll"] + record["default"]["ll"]
    values = [v for v in values if _finite(v)]
    return max(values) if values else None


def _num(value, fmt=".3f"):
    if value is None:
        return "—"
    if isinstance(value, float) and math.isnan(value):
        return "—"
    return format(value, fmt)


def fidelity_rows(records, n_flexmix_starts=20):
    any_flexmix = any("flexmix" in r for r in records)
    n_seeds = max((len(r["default"]["ll"]) for r in records), default=0)
    n_starts = max((len(r["random_starts"]["ll"]) for r in records), default=0)
    header = [
        "data (n x p)",
        "K",
        f"default: min / median / max ({n_seeds} seeds)",
        "published optimum",
        f"best of {n_starts} random starts, C=inf (within {HIT_TOL} of it)",
    ]
    if any_flexmix:
        header.append(f"flexmix, best of {n_flexmix_starts} (K kept)")
    header += [
        "best known",
        "gap (best known − default median)",
        "default fit s",
        "random start s",
    ]
    if any_flexmix:
        header.append(f"flexmix s ({n_flexmix_starts} starts)")
    rows = []
    for r in records:
        d, s = r["default"], r["random_starts"]
        row = [f"{r['dataset']} ({r['n_samples']}x{r['n_features']})", str(r["k"])]
        if d["ll"]:
            row.append(
                f"{min(d['ll']):.3f} / {np.median(d['ll']):.3f} / {max(d['ll']):.3f}"
            )
        else:
            row.append("failed")
        row.append(_num(r["known_optimum"]))
        if s["ll"]:
            best = max(s["ll"])
            hits = sum(v >= best - HIT_TOL for v in s["ll"])
            row.append(f"{best:.3f} ({hits}/{len(s['ll'])})")
        else:
            row.append("failed")
        if any_flexmix:
            fm = r.get("flexmix")
            if fm is None:
                row.append("")
            elif "error" in fm:
                row.append("failed")
            else:
                row.append(f"{fm['log_likelihood']:.3f} ({fm['k_kept']})")
        ref = _reference(r)
        row.append(_num(ref))
        gap = ref - float(np.median(d["ll"])) if d["ll"] and ref is not None else None
        row.append(_num(gap))
        row.append(_num(float(np.median(d["cpu"])) if d["cpu"] else None, ".3f"))
        row.append(_num(float(np.mean(s["cpu"])) if s["cpu"] else None, ".3f"))
        if any_flexmix:
            fm = r.get("flexmix") or {}
            row.append(_num(fm.get("cpu"), ".2f"))
        rows.append(row)
    return header, rows


def fidelity_notes(records):
    notes = []
    for r in records:
        label = f"{r['dataset']} K={r['k']}"
        for key, what in (
            ("default", "default fits"),
            ("random_starts", "random starts"),
        ):
            part = r[key]
            n_fail = len(part.get("errors", []))
            if n_fail:
                notes.append(f"{label}: {n_fail} {what} failed ({part['errors'][0]})")
            early = [n for n in part["n_iter"] if n <= EARLY_STOP]
            if early:
                notes.append(
                    f"{label}: {len(early)}/{len(part['n_iter'])} {what} stopped "
                    f"after {EARLY_STOP} EM iterations or fewer "
                    f"(min {min(early)})"
                )
            n_max_iter = sum(not c for c in part["converged"])
            if n_max_iter:
                notes.append(
                    f"{label}: {n_max_iter}/{len(part['converged'])} {what} "
                    "stopped at max_iter (converged_=False)"
                )
            if part["warnings"]:
                counts = ", ".join(
                    f"{n} {c}" for c, n in Counter(part["warnings"]).most_common()
                )
                notes.append(f"{label}: {what} warned: {counts}")
        fm = r.get("flexmix")
        if fm and "error" in fm:
            notes.append(f"{label}: flexmix failed: {fm['error']}")
        elif fm and not fm.get("converged", True):
            notes.append(f"{label}: flexmix's best start hit iter.max")
        if fm and fm.get("dropped_columns"):
            notes.append(
                f"{label}: flexmix: collinear feature columns "
                f"{fm['dropped_columns']} dropped (0-based)"
            )
    return notes


# ----------------------------------------------------------------------------
# Table 2: held-out
# ----------------------------------------------------------------------------
def candidate_label(candidate):
    if candidate == "default":
        return "library default"
    if candidate == "linear":
        return "linear"
    return f"C={candidate}"


def parse_c(candidate):
    value = float(candidate)
    if not value > 0:
        raise ValueError(f"gate penalty C must be positive, got {candidate}")
    return value


def make_model(candidate, task):
    if candidate == "linear":
        last = (
            LinearRegression()
            if task == "regression"
            else LogisticRegression(max_iter=1000)
        )
        return make_pipeline(StandardScaler(), last)
    kwargs = {"n_experts": N_EXPERTS, "random_state": 0}
    if candidate != "default":
        kwargs["gate"] = SoftmaxGate(C=parse_c(candidate))
    cls = (
        MixtureOfExpertsRegressor
        if task == "regression"
        else MixtureOfExpertsClassifier
    )
    return make_pipeline(StandardScaler(), cls(**kwargs))


def heldout_log_likelihood(pipe, candidate, task, X_train, y_train, X_test, y_test):
    """Mean held-out log-likelihood per row."""
    if candidate != "linear":
        return float(pipe[-1].score_samples(pipe[:-1].transform(X_test), y_test).mean())
    if task == "regression":
        variance = np.mean((y_train - pipe.predict(X_train)) ** 2)
        residual = y_test - pipe.predict(X_test)
        return float(
            np.mean(-0.5 * np.log(2 * np.pi * variance) - residual**2 / (2 * variance))
        )
    proba = pipe.predict_proba(X_test)
    return float(-log_loss(y_test, proba, labels=pipe[-1].classes_))


def run_fold(candidate, task, X, y, train, test):
    pipe = make_model(candidate, task)
    cpu, wall, caught = _cpu_fit(pipe, X[train], y[train])
    score = r2_score if task == "regression" else accuracy_score
    fold = {
        "cpu": cpu,
        "wall": wall,
        "warnings": caught,
        "score": float(score(y[test], pipe.predict(X[test]))),
        "ll": heldout_log_likelihood(
            pipe, candidate, task, X[train], y[train], X[test], y[test]
        ),
    }
    last = pipe[-1]
    if candidate != "linear":
        fold.update(
            n_iter=int(last.n_iter_),
            converged=bool(last.converged_),
            train_ll=float(last.log_likelihood_),
            dead_experts=[int(k) for k in np.atleast_1d(last.dead_experts_)],
            gate_C=float(last.gate_.C),
        )
        if task == "regression":
            fold["min_noise_ratio"] = float(
                np.min(last.noise_variance_) / np.var(y[train])
            )
    return fold, pipe


def _same_fit(a, b, X_test):
    """Whether two fitted pipelines are the same model (gate parameters and
    predictions on the test rows)."""
    pa, pb = a[-1].gate_.get_params(), b[-1].gate_.get_params()
    if pa != pb or a[-1].log_likelihood_ != b[-1].log_likelihood_:
        return False
    return np.array_equal(a.predict(X_test), b.predict(X_test))


def run_heldout(names, candidates, alias=True, verbose=True):
    records, notes = [], []
    for name in names:
        task, loader = HELDOUT_DATASETS[name]
        X, y = loader()
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        cv = (
            KFold(N_SPLITS, shuffle=True, random_state=0)
            if task == "regression"
            else StratifiedKFold(N_SPLITS, shuffle=True, random_state=0)
        )
        splits = list(cv.split(X, y))
        fitted_first = {}
        by_candidate = {}
        ordered = [c for c in candidates if c != "default"]
        if "default" in candidates:
            ordered.append("default")  # last, so it can be compared with the others
        for candidate in ordered:
            record = {
                "dataset": name,
                "task": task,
                "n_samples": int(X.shape[0]),
                "n_features": int(X.shape[1]),
                "candidate": candidate,
                "folds": [],
            }
            t0 = time.perf_counter()
            aliased = None
            for i, (train, test) in enumerate(splits):
                try:
                    fold, pipe = run_fold(candidate, task, X, y, train, test)
                except Exception as exc:  # report, do not stop the run
                    record["folds"].append({"error": f"{type(exc).__name__}: {exc}"})
                    continue
                record["folds"].append(fold)
                if i == 0:
                    fitted_first[candidate] = pipe
                    if candidate == "default" and alias:
                        for other in ordered[:-1]:
                            if other != "linear" and other in fitted_first:
                                if _same_fit(pipe, fitted_first[other], X[test]):
                                    aliased = other
                                    break
                        if aliased is not None:
                            folds = by_candidate[aliased]["folds"][1:]
                            record["folds"].extend(folds)
                            record["alias_of"] = aliased
                            break
            record["wall_time"] = time.perf_counter() - t0
            by_candidate[candidate] = record
            if verbose:
                ok = [f for f in record["folds"] if "error" not in f]
                status = (
                    f"ll/row {np.mean([f['ll'] for f in ok]):.4f}, score "
                    f"{np.mean([f['score'] for f in ok]):.3f} (worst "
                    f"{min(f['score'] for f in ok):.3f}), fit "
                    f"{np.mean([f['cpu'] for f in ok]):.2f}s CPU"
                    if ok
                    else "failed"
                )
                if record.get("alias_of"):
                    status += f" [= {candidate_label(record['alias_of'])}]"
                print(
                    f"[{record['wall_time']:6.1f}s] {name:<11s} "
                    f"{candidate_label(candidate):<16s} {status}",
                    file=sys.stderr,
                    flush=True,
                )
        records.extend(by_candidate[c] for c in candidates if c in by_candidate)
    return records, notes


def _summary(record):
    folds = [f for f in record["folds"] if "error" not in f]
    if not folds:
        return None
    ll = np.array([f["ll"] for f in folds])
    score = np.array([f["score"] for f in folds])
    return {
        "ll": float(ll.mean()),
        "ll_worst": float(ll.min()),
        "score": float(score.mean()),
        "score_worst": float(score.min()),
        "cpu": float(np.mean([f["cpu"] for f in folds])),
        "n_failed": len(record["folds"]) - len(folds),
        "n_spikes": sum(f.get("min_noise_ratio", 1.0) < SPIKE_RATIO for f in folds),
    }


def _ranks(values):
    """Ranks (1 = largest; ties share the mean rank; NaN last)."""
    values = np.where(np.isnan(values), -np.inf, values)
    order = (-values).argsort(kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for v in np.unique(values):
        same = values == v
        ranks[same] = ranks[same].mean()
    return ranks


def heldout_tables(records, rst=False):
    """[(title, header, rows)] for the held-out log-likelihood, the score
    and the fit time."""
    names = list(dict.fromkeys(r["dataset"] for r in records))
    candidates = list(dict.fromkeys(r["candidate"] for r in records))
    by_key = {(r["candidate"], r["dataset"]): r for r in records}
    summaries = {key: _summary(r) for key, r in by_key.items()}
    first = {r["dataset"]: r for r in records}
    header = ["candidate"] + [
        f"{n} ({first[n]['n_samples']}x{first[n]['n_features']})" for n in names
    ]
    r2 = "R\\ :sup:`2`" if rst else "R^2"

    def table(metric, fmt, worst_key, mark_best, bad=None, spike_mark=False):
        # mean rank over data sets
        rank_sum = {c: 0.0 for c in candidates}
        best = {}
        for n in names:
            vals = np.array(
                [
                    summaries[(c, n)][metric]
                    if summaries.get((c, n)) is not None
                    else np.nan
                    for c in candidates
                ]
            )
            for c, rank in zip(candidates, _ranks(vals), strict=True):
                rank_sum[c] += rank
            mixture = [
                (v, c)
                for v, c in zip(vals, candidates, strict=True)
                if c != "linear" and not np.isnan(v)
            ]
            if mixture:
                best[n] = max(v for v, _ in mixture)
        rows = []
        for c in candidates:
            row = [candidate_label(c)]
            for n in names:
                s = summaries.get((c, n))
                if (c, n) not in by_key:
                    row.append("")
                    continue
                if s is None:
                    row.append("failed")
                    continue
                cell = format(s[metric], fmt)
                if mark_best and c != "linear" and s[metric] == best.get(n):
                    cell = f"**{cell}**"
                if worst_key:
                    worst = format(s[worst_key], fmt)
                    if bad is not None and s[worst_key] < bad:
                        worst += " !"
                    cell += f" ({worst})"
                if spike_mark and s["n_spikes"]:
                    cell += " †"
                if s["n_failed"]:
                    cell += f" [{s['n_failed']} failed]"
                row.append(cell)
            row.append(f"{rank_sum[c] / len(names):.1f}" if mark_best else "")
            rows.append(row)
        return rows

    ll_rows = table("ll", ".4f", "ll_worst", True, spike_mark=True)
    score_rows = table("score", ".3f", "score_worst", True, bad=0.0)
    time_rows = [row[:-1] for row in table("cpu", ".2f", None, False)]
    return [
        (
            "Held-out log-likelihood per row, mean over 5 folds (worst fold); "
            "best mixture candidate in bold; † a fold with an expert collapsed "
            "onto repeated target values (noise variance below "
            f"{SPIKE_RATIO:g} var(y)); last column: mean rank",
            header + ["mean rank"],
            ll_rows,
        ),
        (
            f"Held-out {r2} (regression) or accuracy (classification), mean "
            "over 5 folds (worst fold; ! marks a fold below 0); best mixture "
            "candidate in bold; last column: mean rank",
            header + ["mean rank"],
            score_rows,
        ),
        ("Mean fit time per fold (CPU seconds, one thread)", header, time_rows),
    ]


def heldout_notes(records):
    notes = []
    for r in records:
        label = f"{r['dataset']}, {candidate_label(r['candidate'])}"
        if r.get("alias_of"):
            continue
        folds = r["folds"]
        errors = [f["error"] for f in folds if "error" in f]
        if errors:
            notes.append(f"{label}: {len(errors)} folds failed ({errors[0]})")
        ok = [f for f in folds if "error" not in f]
        n_max_iter = sum(not f.get("converged", True) for f in ok)
        if n_max_iter:
            notes.append(
                f"{label}: {n_max_iter}/{len(ok)} folds stopped at max_iter "
                "(converged_=False)"
            )
        early = [
            f["n_iter"] for f in ok if f.get("n_iter", EARLY_STOP + 1) <= EARLY_STOP
        ]
        if early:
            notes.append(
                f"{label}: {len(early)}/{len(ok)} folds stopped after "
                f"{', '.join(map(str, early))} EM iterations"
            )
        spikes = [
            (i + 1, f["min_noise_ratio"])
            for i, f in enumerate(ok)
            if f.get("min_noise_ratio", 1.0) < SPIKE_RATIO
        ]
        if spikes:
            notes.append(
                f"{label}: folds "
                + ", ".join(f"{i} ({ratio:.1e} var(y))" for i, ratio in spikes)
                + " have an expert collapsed onto repeated target values "
                "(held-out log-likelihood inflated by its spike)"
            )
        dead = sum(bool(f.get("dead_experts")) for f in ok)
        if dead:
            notes.append(f"{label}: {dead}/{len(ok)} folds ended with dead experts")
        if r["task"] == "regression":
            bad = [(i, f["score"]) for i, f in enumerate(ok) if f["score"] < 0]
            for i, score in bad:
                notes.append(f"{label}: fold {i + 1} R^2 = {score:.3f}")
        caught = [w for f in ok for w in f.get("warnings", [])]
        if caught:
            counts = ", ".join(f"{n} {c}" for c, n in Counter(caught).most_common())
            notes.append(f"{label}: warned: {counts}")
    aliases = {(r["candidate"], r["alias_of"]) for r in records if r.get("alias_of")}
    for candidate, other in sorted(aliases):
        names = [r["dataset"] for r in records if r.get("alias_of") == other]
        notes.append(
            f"{candidate_label(candidate)} = {candidate_label(other)}: identical "
            f"fit on the first fold of {', '.join(names)} (same gate parameters "
            "and predictions), so its other folds are that candidate's"
        )
    return notes


# ----------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------
def markdown(title, header, rows):
    out = [f"**{title}**\n", "| " + " | ".join(header) + " |"]
    out.append("|" + "|".join("---" for _ in header) + "|")
    out.extend("| " + " | ".join(row) + " |" for row in rows)
    out.append("")
    return "\n".join(out)


def rst(title, header, rows):
    out = [f".. list-table:: {title}", "   :header-rows: 1", "   :stub-columns: 1", ""]
    for row in [header] + rows:
        out.append(f"   * - {row[0]}")
        out.extend(f"     - {cell}" if cell else "     -" for cell in row[1:])
    out.append("")
    return "\n".join(out)


def all_tables(payload, fmt):
    out = []
    if payload.get("fidelity"):
        header, rows = fidelity_rows(payload["fidelity"])
        title = (
            "Fidelity: training log-likelihood of the default fit against the "
            "best known optimum"
        )
        out.append(fmt(title, header, rows))
    if payload.get("heldout"):
        for title, header, rows in heldout_tables(payload["heldout"], rst=fmt is rst):
            out.append(fmt(title, header, rows))
    return "\n".join(out)


def all_notes(payload):
    notes = list(payload.get("notes", []))
    if payload.get("fidelity"):
        notes += fidelity_notes(payload["fidelity"])
    if payload.get("heldout"):
        notes += heldout_notes(payload["heldout"])
    return notes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fidelity: mcycle and tonedata, 3 seeds, 20 random starts; "
        f"held-out: {', '.join(QUICK_HELDOUT)}",
    )
    parser.add_argument(
        "--table",
        choices=("both", "fidelity", "heldout"),
        default="both",
        help="which table to compute (default both)",
    )
    parser.add_argument(
        "--seeds", type=int, help="default fits per case (default 5; --quick 3)"
    )
    parser.add_argument(
        "--starts",
        type=int,
        help="random starts with C=inf per case (default 50; --quick 20)",
    )
    parser.add_argument(
        "--no-flexmix", action="store_true", help="skip R's flexmix even if present"
    )
    parser.add_argument(
        "--datasets", nargs="+", help="held-out data sets to run (default all)"
    )
    parser.add_argument(
        "--candidates",
        nargs="+",
        default=list(DEFAULT_CANDIDATES),
        help="held-out candidates: gate penalties C (numbers, 'inf'), 'default' "
        "(no gate argument) and 'linear' (default: %(default)s)",
    )
    parser.add_argument(
        "--no-alias",
        action="store_true",
        help="fit 'default' on every fold even when it equals a candidate",
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
        print(all_tables(payload, markdown))
        for note in all_notes(payload):
            print(f"- {note}")
        if args.rst:
            Path(args.rst).write_text(all_tables(payload, rst))
        return

    for candidate in args.candidates:
        if candidate not in ("default", "linear"):
            try:
                parse_c(candidate)
            except ValueError:
                parser.error(
                    f"candidate {candidate!r} is not a positive number, "
                    "'inf', 'default' or 'linear'"
                )
    candidates = list(dict.fromkeys(args.candidates))
    names = list(HELDOUT_DATASETS)
    if args.datasets:
        unknown = set(args.datasets) - set(names)
        if unknown:
            parser.error(f"unknown data sets {sorted(unknown)}; choose from {names}")
        names = [n for n in names if n in args.datasets]
    elif args.quick:
        names = list(QUICK_HELDOUT)
    cases = QUICK_FIDELITY_CASES if args.quick else FIDELITY_CASES
    n_seeds = args.seeds or (3 if args.quick else 5)
    n_starts = args.starts or (20 if args.quick else 50)

    notes = []
    flexmix = False
    if args.table in ("both", "fidelity"):
        if args.no_flexmix:
            notes.append("flexmix: skipped (--no-flexmix)")
        else:
            flexmix, reason = flexmix_available()
            if not flexmix:
                notes.append(f"flexmix: skipped ({reason})")

    t0, cpu0 = time.perf_counter(), time.process_time()
    payload = {"notes": notes}
    with threadpool_limits(limits=1):
        warm_up()
        if args.table in ("both", "fidelity"):
            payload["fidelity"] = run_fidelity(cases, n_seeds, n_starts, flexmix)
        if args.table in ("both", "heldout"):
            payload["heldout"], more = run_heldout(
                names, candidates, alias=not args.no_alias
            )
            notes += more
    total, total_cpu = time.perf_counter() - t0, time.process_time() - cpu0

    print(all_tables(payload, markdown))
    for note in all_notes(payload):
        print(f"- {note}")
    versions = [
        r["flexmix"]["version"]
        for r in payload.get("fidelity", [])
        if "version" in r.get("flexmix", {})
    ]
    flexmix_version = f", flexmix {versions[0]}" if versions else ""
    print(
        f"\nTotal {total:.0f}s wall-clock, {total_cpu:.0f}s CPU (this process; "
        f"R runs in a subprocess); Python {platform.python_version()}, "
        f"scikit-learn {sklearn.__version__}, skmoe {skmoe.__version__}"
        f"{flexmix_version}, {platform.machine()}."
    )
    payload.update(
        total_seconds=total,
        total_cpu_seconds=total_cpu,
        python=platform.python_version(),
        sklearn=sklearn.__version__,
        skmoe=skmoe.__version__,
        flexmix=versions[0] if versions else None,
        machine=platform.machine(),
        n_splits=N_SPLITS,
        satellite_rows=SATELLITE_ROWS,
        power_plant_rows=POWER_PLANT_ROWS,
    )
    if args.json:
        Path(args.json).write_text(json.dumps(payload, indent=2))
    if args.rst:
        Path(args.rst).write_text(all_tables(payload, rst))


if __name__ == "__main__":
    main()
