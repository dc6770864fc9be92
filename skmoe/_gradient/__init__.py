"""Gradient fitting of a mixture of experts: ``solver="gradient"`` and ``partial_fit``.

Jacobs, Jordan, Nowlan and Hinton (1991) fitted their mixture by gradient
ascent on the log-likelihood ``L = sum_i w_i log p(y_i | x_i)``. Once the
E-step has given the responsibilities ``h`` (``skmoe._kernels.e_step``), the
gradient is cheap (docs/user_guide/gradient.rst):

* ``dL/d theta_k = sum_i w_i h_ik d/d theta_k log p_k(y_i | x_i)`` for the
  parameters of expert ``k`` (a responsibility-weighted expert gradient), and
* ``dL/d z_ik = w_i (h_ik - g_ik)`` for the gate's logits ``z = x V + b``.

Two solvers use them.

Full batch (L-BFGS)
    With *differentiable* experts only (see ``_support._differentiable``), the
    gate, the experts and the log noise variances are one parameter vector,
    and the penalised log-likelihood is maximised with scipy's L-BFGS-B and
    the analytic gradient. The objective is EM's (the gate's L2 penalty
    included), plus each expert's own penalty written on the log-likelihood
    scale: ``alpha ||beta_k||^2 / (2 sigma_k^2)`` for a ``Ridge`` expert (the
    penalty whose maximiser, for fixed responsibilities and variance, is
    ``Ridge`` fitted with the responsibilities as sample weights, which is
    what an EM M-step does; EM's variance update leaves it out, so with
    Ridge experts the two solvers' optima differ slightly) and
    ``||B_k||^2 / (2 C)`` for a ``LogisticRegression`` expert
    (scikit-learn's objective, ``C sum_i s_i loss_i + ||B||^2 / 2``, divided
    by ``C``; EM maximises the same).

Minibatches (Adam and ``partial_fit``)
    Each step takes the E-step of a minibatch under the current model, then
    an Adam step on the gate (and on the differentiable experts) along the
    minibatch gradient, and calls ``partial_fit`` of every other expert with
    the responsibilities times the sample weights as ``sample_weight``: an
    exact stochastic-gradient step of the mixture's log-likelihood for that
    expert (not rescaled: docs/user_guide/solvers.rst says why). Regression
    experts of ``_support._learns_standardized_target`` learn the target
    standardised by the scales the fit starts from, and are written back as
    copies that predict on the original scale. Regression noise variances
    are running weighted averages of the squared residuals (exponential
    forgetting over about ``_stream._VARIANCE_MEMORY`` rows), and are set to their
    exact weighted average over the training data at the end of every epoch
    of ``fit``.

Both start from a warm-up on at most ``_stream._INIT_ROWS`` random rows of the
training data (``partial_fit``: on the first chunk): the ``init_params``
responsibilities of those rows, an M-step and ``_stream._INIT_EM_ITER`` EM
iterations there (``_stream._warm_up``).

Both work in internally standardised coordinates: features standardised by
their weighted mean and scale (for ``partial_fit``, running estimates over
every chunk seen so far; the parameters are re-expressed whenever the
estimates change, so the fitted function does not jump), and, for
regression, the target too. Everything is mapped back to the original scale
when the parameters are written into real fitted experts and a
:class:`~skmoe.SoftmaxGate`, so ``predict`` and every other method work as
after EM.

The package's modules:

* ``_support``: which experts qualify, and how each is fitted;
* ``_model``: the parameter stack (gate and differentiable experts in
  standardised coordinates) and the full-batch objective;
* ``_lbfgs``: the L-BFGS-B driver (the full-batch solver and the warm-up's
  M-steps);
* ``_stream``: minibatch fitting (Adam, the experts' ``partial_fit``, the
  running variances) and the warm-up;
* ``_full_batch``: :func:`gradient_run`, one run of ``solver="gradient"``
  (full batch, or minibatches through ``_stream``);
* ``_partial_fit``: the estimators' ``partial_fit``.
"""

from ._full_batch import gradient_run
from ._partial_fit import partial_fit
from ._support import check_solver_support

__all__ = ["check_solver_support", "gradient_run", "partial_fit"]
