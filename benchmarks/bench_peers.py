"""skmoe against R's flexmix and mixtools on the same data and model.

Data drawn from a mixture of linear experts with a softmax gate
(``make_moe_regression``, d = 5) at n = 10**4, 10**5 and 10**6 are fitted

- by skmoe (``MixtureOfExpertsRegressor``, linear experts, its defaults:
  Newton gate and SQUAREM), K = 4 and K = 2;
- when ``Rscript`` with flexmix is installed, by flexmix (``FLXMRglm``
  experts with a ``FLXPmultinom`` concomitant gate on the same features),
  K = 4;
- when mixtools is installed, by mixtools' ``hmeEM`` (its mixture of
  experts, K = 2 only; it takes no start partition and starts from its
  own random one).

skmoe and flexmix start from the same partition (k-means on the standardised
features and target) and stops at a change of the log-likelihood below
about 1e-6 per row (flexmix's ``tolerance`` is on the relative change,
and gets 1e-6; hmeEM's ``epsilon`` is on the total, and gets 1e-6 n).
For each it prints the wall time to convergence, the EM iterations (one
SQUAREM cycle counts as its EM steps), the time per EM iteration, and the
log-likelihood per row reached; and, for skmoe, the time per plain EM
iteration (20 iterations, no acceleration), the ns per row and iteration,
and the wall time of a default fit (small-EM start). Ratios are to
flexmix in the same run. A peer whose fit would take longer than
``--peer-budget`` seconds (extrapolated linearly from the size below) is
skipped.

Usage::

    python benchmarks/bench_peers.py [--sizes 10000 100000 1000000]
"""

import argparse
import os
import shutil
import subprocess
import tempfile
import time
import warnings

import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression

FEATURES = [f"x{j}" for j in range(1, 6)]

FLEXMIX = """
suppressMessages(library(flexmix))
d <- read.csv("{csv}")
cl <- scan("{labels}", quiet = TRUE)
f <- y ~ {terms}
run <- function(iters, tol) {{
  flexmix(f, data = d, k = {k}, cluster = cl, model = FLXMRglm(),
          concomitant = FLXPmultinom(~ {terms}),
          control = list(iter.max = iters, tolerance = tol, minprior = 0))
}}
t <- system.time(m <- run(20, 0))[["elapsed"]]
cat("FIXED", t, m@iter, "\\n")
t <- system.time(m <- run(5000, {tol}))[["elapsed"]]
cat("RESULT", t, m@iter, logLik(m), "\\n")
"""

MIXTOOLS = """
suppressMessages(library(mixtools))
set.seed(0)
d <- read.csv("{csv}")
x <- as.matrix(d[, {columns}])
t <- system.time(m <- tryCatch(
  hmeEM(d$y, x, k = 2, epsilon = {tol}, maxit = 5000),
  error = function(e) conditionMessage(e)))[["elapsed"]]
if (is.character(m)) cat("FAILED", t, m, "\\n") else
  cat("RESULT", t, length(m$all.loglik) - 1, m$loglik, "\\n")
"""


def data(n, seed=0):
    # The data of bench_fit.py (and of issue 19's figures).
    X, y = make_moe_regression(n, n_features=5, n_experts=4, random_state=seed)
    return X, y


def start(X, y, k):
    Z = np.column_stack([X, y])
    Z = (Z - Z.mean(0)) / Z.std(0)
    return KMeans(k, n_init=1, random_state=0).fit(Z).labels_


def skmoe_fits(X, y, k):
    n = X.shape[0]
    labels = start(X, y, k)
    resp = np.eye(k)[labels]
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MixtureOfExpertsRegressor(
            k, init_params=resp, max_iter=20, tol=0.0, acceleration=None
        )
        t0 = time.perf_counter()
        est.fit(X, y)
        out["per_iter"] = (time.perf_counter() - t0) / est.n_iter_
        est = MixtureOfExpertsRegressor(k, init_params=resp)
        t0 = time.perf_counter()
        est.fit(X, y)
        out["wall"] = time.perf_counter() - t0
        # Plain EM (acceleration=None, the default): one M-step per iteration.
        out["steps"] = est.n_iter_
        out["loglik"] = est.log_likelihood_ / n
        t0 = time.perf_counter()
        MixtureOfExpertsRegressor(k, random_state=0).fit(X, y)
        out["default"] = time.perf_counter() - t0
    return out, labels


def r_fit(script, X, y, labels, workdir):
    csv = os.path.join(workdir, "data.csv")
    lab = os.path.join(workdir, "labels.txt")
    header = ",".join(FEATURES + ["y"])
    np.savetxt(
        csv,
        np.column_stack([X, y]),
        delimiter=",",
        header=header,
        comments="",
        fmt="%.17g",
    )
    np.savetxt(lab, labels + 1, fmt="%d")
    path = os.path.join(workdir, "fit.R")
    with open(path, "w") as f:
        f.write(script.format(csv=csv, labels=lab))
    res = subprocess.run(["Rscript", path], capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(f"Rscript failed:\n{res.stderr}")
    out = {}
    for line in res.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == "FIXED":
            out["per_iter"] = float(parts[1]) / float(parts[2])
        elif parts and parts[0] == "FAILED":
            print(f"# failed after {parts[1]} s: {' '.join(parts[2:])}")
            return None
        elif parts and parts[0] == "RESULT":
            out["wall"], out["steps"] = float(parts[1]), int(parts[2])
            out["loglik"] = float(parts[3]) / X.shape[0]
    return out


def r_has(package):
    if shutil.which("Rscript") is None:
        return False
    res = subprocess.run(["Rscript", "-e", f"library({package})"], capture_output=True)
    return res.returncode == 0


def row(name, r, base=None):
    per = r.get("per_iter")
    ratio = f"{base['per_iter'] / per:9.1f}" if base and per else f"{'':9s}"
    per_s = f"{1e3 * per:10.2f}" if per else f"{'':10s}"
    print(
        f"{name:24s} {r['wall']:9.3f} {r['steps']:6d} {per_s} {ratio} "
        f"{r['loglik']:12.6f}" + (f" {r['default']:10.3f}" if "default" in r else "")
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000]
    )
    parser.add_argument("--peer-budget", type=float, default=300.0)
    args = parser.parse_args()
    peers = {"flexmix": r_has("flexmix"), "mixtools": r_has("mixtools")}
    print("# peers available:", peers)
    last = {}
    # Compile the numba kernels before any timing.
    X, y = data(2000)
    for k in (4, 2):
        skmoe_fits(X, y, k)
    with tempfile.TemporaryDirectory() as workdir:
        for n in args.sizes:
            X, y = data(n)
            print(f"\nn = {n}, d = 5")
            print(
                f"{'':24s} {'wall s':>9s} {'EM it':>6s} {'ms/iter':>10s} "
                f"{'x flexmix':>9s} {'loglik/row':>12s} {'default s':>10s}"
            )
            results = {}
            for k in (4, 2):
                results[f"skmoe K={k}"], labels = skmoe_fits(X, y, k)
                results[f"labels{k}"] = labels
            terms = " + ".join(FEATURES)
            for peer, k, script in (
                ("flexmix", 4, FLEXMIX.replace("{terms}", terms).replace("{k}", "4")),
                ("mixtools", 2, MIXTOOLS.replace("{columns}", "1:5")),
            ):
                if not peers[peer]:
                    continue
                expected = last.get(peer, 0.0) * n / (n // 10 or 1)
                if expected > args.peer_budget:
                    print(f"# {peer} skipped at n = {n} (about {expected:.0f} s)")
                    peers[peer] = False
                    continue
                # flexmix's tolerance is on the relative change of the
                # log-likelihood, hmeEM's epsilon on the change of the total.
                tol = 1e-6 if peer == "flexmix" else 1e-6 * n
                script = script.replace("{tol}", repr(tol))
                labels = results[f"labels{k}"]
                result = r_fit(script, X, y, labels, workdir)
                if result is None:
                    print(f"# {peer} failed at n = {n}; not run at larger n")
                    peers[peer] = False
                    continue
                results[f"{peer} K={k}"] = result
                last[peer] = result["wall"]
            base = results.get("flexmix K=4")
            for name, r in results.items():
                if name.startswith("labels"):
                    continue
                row(name, r, base if "K=4" in name else None)
            sk = results["skmoe K=4"]
            print(
                f"# skmoe K=4: {1e9 * sk['per_iter'] / n:.1f} ns per row and "
                f"plain EM iteration"
            )


if __name__ == "__main__":
    main()
