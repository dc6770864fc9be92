"""Progress of a fit: lines printed with ``verbose`` and an optional bar.

Every solver loop (EM in ``_em.py``, L-BFGS and minibatch epochs in
``_gradient/``) reports each iteration to a :class:`_RunProgress`; it prints
a line every ``verbose_interval`` iterations with ``verbose=1`` (every
iteration with ``verbose>=2``), as :class:`sklearn.mixture.GaussianMixture`
does, and advances the fit's progress bar (``progress_bar=True``).

The bar belongs to ``fit`` (:func:`fit_bar`): one bar over the restarts'
iterations when they run one after the other, one step per finished restart
when they run in joblib workers (a worker process cannot draw on the
parent's bar). The loops find it through a context variable, so that no
solver's signature carries it and a worker, which does not see the parent's
context, simply has none.
"""

import contextlib
import contextvars
import time

_BAR = contextvars.ContextVar("skmoe_progress_bar", default=None)


def _tqdm():
    """``tqdm.auto.tqdm`` (a notebook widget in Jupyter, text elsewhere)."""
    try:
        from tqdm.auto import tqdm
    except ImportError as err:
        raise ImportError(
            "progress_bar=True needs the tqdm package, which is not installed: "
            "pip install tqdm (or pip install 'skmoe[progress]'), or set "
            "progress_bar=False."
        ) from err
    return tqdm


def check_progress_bar(estimator):
    """Raise before any work if a bar is asked for and tqdm is missing."""
    if getattr(estimator, "progress_bar", False):
        _tqdm()


@contextlib.contextmanager
def fit_bar(estimator, n_runs, per_run):
    """The fit's progress bar, or ``None`` without ``progress_bar``.

    ``per_run``: the steps of one run (``max_iter``), or ``None`` when the
    runs are counted whole (parallel restarts). Sets the context variable
    the solver loops read; the bar is closed on leaving, also on error.
    """
    if not getattr(estimator, "progress_bar", False):
        yield None
        return
    tqdm = _tqdm()
    if per_run is None:
        bar = tqdm(total=n_runs, desc=type(estimator).__name__, unit="run")
    else:
        bar = tqdm(total=n_runs * per_run, desc=type(estimator).__name__, unit="it")
    token = _BAR.set(bar)
    try:
        yield bar
    finally:
        _BAR.reset(token)
        bar.close()


class _RunProgress:
    """The reporter of one run (one restart, or one phase of it).

    Parameters
    ----------
    estimator : the estimator being fitted (``verbose``, ``verbose_interval``).
    run : int or None
        The run's index; ``None`` for the short runs of an initialisation,
        which report nothing.
    unit : str
        What an iteration is ("iteration", "L-BFGS iteration", "epoch").
    offset : int
        Iterations already made by earlier phases of the same run.
    """

    def __init__(self, estimator, run, unit="iteration", offset=0):
        quiet = run is None
        self.verbose = 0 if quiet else int(getattr(estimator, "verbose", 0))
        self.interval = max(1, int(getattr(estimator, "verbose_interval", 10)))
        self.run, self.unit, self.offset = run, unit, offset
        self.bar = None if quiet else _BAR.get()
        self.t0 = time.perf_counter()
        self.previous = None

    def elapsed(self):
        """Seconds since the run began."""
        return time.perf_counter() - self.t0

    def update(self, n_iter, objective):
        """Iteration ``n_iter`` (of this phase) ended at ``objective``."""
        change = None if self.previous is None else objective - self.previous
        self.previous = objective
        if self.bar is not None:
            self.bar.update(1)
        n = self.offset + n_iter
        if self.verbose >= 2 or (self.verbose and n % self.interval == 0):
            delta = "" if change is None else f", change {change:+.3g}"
            print(
                f"  run {self.run} {self.unit} {n}: objective {objective:.8f}"
                f"{delta} ({self.elapsed():.2f}s)"
            )


def end_of_run(bar, n_runs_done, per_run):
    """Run ``n_runs_done`` ended: move the bar to its end, ``n_runs_done *
    per_run`` (a run that converged early leaves steps unused), or one step
    on for a bar counting whole runs (``per_run=None``)."""
    if bar is None:
        return
    if per_run is None:
        bar.update(1)
    else:
        bar.update(max(0, n_runs_done * per_run - bar.n))
