"""The docstrings the estimators share, filled in for each at import.

The flat regressor and classifier document the same parameters and
attributes, with a few words that differ (their default expert and gate,
what k-means clusters on); so do the two hierarchical estimators. Each
estimator's class docstring holds ``{params}`` and ``{attrs}`` (and, for
the hierarchical ones, ``{tail}``) where the shared text goes.
"""

_COMMON_PARAMS_DOC = """
    n_experts : int, default=3
        Number of experts K.
    expert : estimator, list of estimators or None, default=None
        The expert model. One estimator is cloned K times; a list of K
        estimators gives heterogeneous experts (e.g. a linear model beside a
        tree). Every nested ``random_state`` is seeded from ``random_state``.
        Experts are cloned, never fitted in place, and must accept
        ``sample_weight`` in ``fit``: EM fits expert k with the
        responsibilities ``h_ik`` times the sample weights as weights. An
        expert without ``sample_weight`` support raises a ``ValueError``
        before any fitting. ``None`` uses {default_expert}.
        ``LogisticRegression``, ``Lasso`` and
        ``ElasticNet`` experts (convex fits whose ``warm_start`` only sets
        the solver's starting point) start each M-step from the previous
        iteration's solution: the same optimum, in fewer solver iterations.
    gate : SoftmaxGate or None, default=None
        The gate, ``g(x) = softmax(x @ V + b)``; ``None`` uses
        {default_gate}. It is
        refitted every M-step on the responsibilities, warm-started from the
        last iteration.
    solver : {'em', 'gradient'}, default='em'
        How ``fit`` maximises the likelihood. ``'em'``: expectation-
        maximisation, any expert that accepts ``sample_weight``.
        ``'gradient'``: gradient ascent on the log-likelihood (the 1991
        paper's method). With differentiable experts only ({differentiable})
        and ``batch_size='auto'`` it is full-batch L-BFGS over the gate, the
        experts{variances} jointly, with analytic gradients; otherwise it is
        minibatch gradient ascent: Adam steps on the gate (and on the
        differentiable experts), and each other expert's ``partial_fit``
        called with the responsibilities as ``sample_weight``. Any other
        expert raises a ``ValueError`` before fitting. See the user guide's
        "Choosing a solver". :meth:`partial_fit` always takes minibatch
        gradient steps, whatever ``solver``.
    max_iter : int, default=300
        Maximum number of iterations per run: EM iterations
        (``solver='em'``), L-BFGS iterations (full-batch gradient), or epochs
        (passes over the data) of minibatch gradient fitting.
    tol : float, default=1e-6
        EM stops when the objective (average log-likelihood per unit of
        sample weight, minus the gate penalty) changes by less than ``tol``
        between iterations and the gain still to come, projected from the
        last two changes (Aitken), is below ``tol`` too (so that EM does not
        stop on a plateau), or has not improved on its best value by more
        than ``tol`` for 10 iterations without rising at each (the rule for
        experts, such as trees, that do not maximise their weighted
        likelihood exactly). Full-batch
        gradient fitting stops when an L-BFGS iteration decreases the
        objective by less than ``tol / 100`` (relative; its iterations are
        cheaper and shorter than EM's) or the largest gradient component of
        the objective falls below ``tol``; minibatch fitting stops when the
        objective has not improved on its best value by more than ``tol`` for
        5 epochs, as scikit-learn's SGD estimators do.
    batch_size : int or 'auto', default='auto'
        Minibatch size of gradient fitting (``solver='gradient'`` and
        :meth:`partial_fit`). ``'auto'``: full batch (L-BFGS) in ``fit`` when
        every expert is differentiable, else minibatches of
        ``min(200, n_samples)`` rows, as ``MLPRegressor``. An int always gives
        minibatches (also with differentiable experts). Ignored by EM.
    learning_rate_init : float, default=0.01
        Step size of the Adam updates of minibatch gradient fitting (the gate
        and the differentiable experts, in internally standardised
        coordinates); divided by 5 after every 2 epochs without improvement.
        Experts updated through their own ``partial_fit`` use their own
        learning rate (e.g. ``SGDRegressor(eta0=...)``).
    shuffle : bool, default=True
        Whether minibatch gradient fitting shuffles the rows at every epoch
        (and within each :meth:`partial_fit` chunk), drawing from
        ``random_state``.
    acceleration : {'auto', 'squarem'} or None, default={acceleration_default}
        Extrapolation of EM's steps by SQUAREM (Varadhan & Roland 2008):
        each iteration takes two EM steps, extrapolates along them and takes
        one more EM step from there, keeping the extrapolation only when the
        objective is at least that of the two plain steps (so it never
        decreases); it reaches the same optimum in fewer EM steps where EM
        converges slowly. Sound where the parameters form a
        vector that EM maps deterministically{acceleration_extra}, with a
        :class:`SoftmaxGate`, on NumPy inputs. ``'auto'``: on there, plain
        EM elsewhere; ``'squarem'``: on, and a
        ``ValueError`` where it is not sound; ``None``: plain EM.
        {acceleration_why} With it,
        ``n_iter_`` and ``lower_bounds_`` count SQUAREM iterations (three
        EM steps or more each). Ignored by ``solver='gradient'``.
    n_init : int, default=1
        Number of EM runs from different initialisations; the run with the
        highest objective is kept. With ``n_jobs``, runs go in parallel.
    init_params : {'small_em', 'kmeans', 'random', 'random_from_data'} or \
array-like, default='small_em'
        Initial responsibilities. ``'small_em'``: the best of nine short EM
        runs (Biernacki, Celeux & Govaert 2003) from k-means, random-row and
        random starts in turn, on at most 2,000 rows (see the user guide's
        "Initialisation and restarts"); it finds optima that a single kind
        of start misses. ``'kmeans'``: weighted k-means (k-means++ seeding)
        on the standardised features{kmeans_extra}; ``'random'``: uniform
        random responsibilities; ``'random_from_data'``: rows are assigned
        to the nearest of K random rows. An array of shape (n_samples,
        n_experts) gives the initial responsibilities directly.
    routing : {'soft', 'hard', 'top_k'}, default='soft'
        How predictions combine the experts. ``'soft'``: all experts, weighted
        by the gate; ``'hard'``: only the most probable expert; ``'top_k'``:
        the ``top_k`` most probable experts with their gate probabilities
        renormalised. Hard and top-k routing evaluate each expert only on the
        rows routed to it.
    top_k : int, default=2
        Number of experts used per row when ``routing='top_k'``.
    fit_top_k : int, default=None
        Sparse EM: each E-step keeps every row's posteriors on its
        ``fit_top_k`` most responsible experts only (renormalised), so each
        M-step fits an expert on the rows routed to it and no others.
        EM then maximises a lower bound of the log-likelihood, the sum over
        rows of the log of the kept experts' joint mass (see the user
        guide's "Changing the experts"); ``lower_bound_`` records it,
        ``log_likelihood_`` the model's own. ``None``: dense EM, every
        expert on every row. EM only (not ``solver='gradient'`` nor
        ``partial_fit``).
    balance_strength : float, default=0.0
        Load balancing: EM maximises the log-likelihood minus
        ``balance_strength * sum_i w_i * KL(u || gbar)``, ``gbar`` the
        weighted average of the gate's probabilities over the training rows
        and ``u`` uniform over the experts, which pulls the share of rows
        each expert gets toward ``1 / n_experts`` (the penalty is zero
        when the shares are equal). A penalty of the gate alone, so EM with
        exact expert M-steps still never lowers its objective
        (``lower_bound_``). 0 (the default) is plain maximum likelihood;
        around 0.1 evens shares with little loss of fit, large values force
        equal shares. EM on NumPy inputs only. See
        :func:`~skmoe.inspection.expert_usage` to measure the balance.
    min_responsibility : float, default=1e-6
        Rows whose weight for an expert (responsibility times sample weight)
        is at most this value are left out of that expert's fit, which saves
        time and changes the fit negligibly. 0 keeps every row.
    min_expert_weight : 'auto' or float, default='auto'
        An expert whose total responsibility ``sum_i w_i h_ik`` (in rows:
        sample weights are rescaled to average one) falls below this is dead.
        ``'auto'``: one row more than the expert's parameters (coefficients or
        leaves{variance_param}), and at least 2: an expert fitted on fewer
        rows interpolates them and is not to be trusted elsewhere. During EM
        a dead expert is re-initialised on the rows the mixture explains
        worst (each run does this at most ``n_experts`` times), with a
        ``DeadExpertWarning`` and the events recorded in
        ``reinitialized_experts_``; a dead expert in the returned model is
        warned about and listed in ``dead_experts_``. Experts are never
        dropped.
    expert_errors : {'isolate', 'raise'}, default='isolate'
        What EM does when an expert fails: its ``fit`` raises, or its
        outputs are not one finite prediction (probability row) per row.
        ``'isolate'``: the expert is taken out of the mixture from that
        iteration (its gate probability is 0, the others are renormalised,
        it is never refitted), the other experts fit on, an
        ``ExpertFailureWarning`` names the expert, the iteration, the run and
        the error, and ``failed_experts_`` records it; a restart in which
        every expert fails is dropped when another succeeds. ``'raise'``:
        the error propagates, with notes naming the expert, the EM
        iteration and the run. Gradient fitting and ``partial_fit`` always
        raise.
    n_jobs : int or None, default=None
        Parallel jobs (joblib): the restarts when ``n_init > 1``, otherwise
        the K expert fits of each M-step. Any joblib backend can be used with
        ``joblib.parallel_config``.
    random_state : int, RandomState instance or None, default=None
        Controls the initialisation, the restarts and the experts' own
        ``random_state``. Pass an int for reproducible fits.
    verbose : int, default=0
        1 prints the objective, its change and the elapsed time every
        ``verbose_interval`` iterations (EM iterations, L-BFGS iterations or
        epochs) and a line at the end of each run (and per
        :meth:`partial_fit` call); 2 prints a line at every iteration.
    verbose_interval : int, default=10
        Iterations between two progress lines with ``verbose=1``.
    progress_bar : bool, default=False
        Show a progress bar (``tqdm.auto``: a widget in notebooks, text in
        terminals; needs ``pip install tqdm``) over the restarts'
        iterations, or over the finished restarts when they run in parallel
        (``n_jobs``).
    warm_start : bool, default=False
        Continue EM from the fitted model on the next ``fit`` (then ``n_init``
        is ignored). With another ``n_experts`` the model grows (the expert
        that explains its rows worst is split in two, repeatedly) or shrinks
        (failed experts, then those of least responsibility, are removed)
        before EM continues (EM solver only); see "Changing the experts" in
        the user guide.
"""

_COMMON_ATTRS_DOC = """
    experts_ : list of estimators
        The K fitted experts, in canonical order: by share of the training
        data (``expert_shares_``), largest first.
    gate_ : SoftmaxGate
        The fitted gate; column k of its ``coef_`` belongs to expert k.
    expert_shares_ : ndarray of shape (n_experts,)
        Share of the (weighted) training data each expert is responsible for.
    n_iter_ : int
        Iterations of the best run: EM iterations, L-BFGS iterations or
        epochs (see ``max_iter``); after :meth:`partial_fit`, the number of
        ``partial_fit`` calls.
    converged_ : bool
        Whether the best run met the stopping rule before ``max_iter``.
        Always False after :meth:`partial_fit`, which has no stopping rule.
    lower_bound_ : float
        Best value of the EM objective: the average log-likelihood per unit
        of sample weight minus the gate's L2 penalty and the logistic
        experts' (``||coef_||^2 / (2 C)`` each) divided by the total
        weight. This is the quantity EM never decreases (with experts that
        fit their weighted likelihood, or the logistic experts' penalised
        one, exactly or by Newton steps); with ``fit_top_k``, sparse
        EM's bound in its place. After :meth:`partial_fit`,
        the last call's value in ``lower_bounds_``.
    lower_bounds_ : ndarray of shape (n_iter_,)
        The objective after each iteration (or epoch) of the best run. After
        :meth:`partial_fit`, one value per call: the chunk's progressive
        objective, each minibatch scored before the step that learns from
        it.
    log_likelihood_ : float
        Total (weighted) log-likelihood ``sum_i w_i log p(y_i | x_i)`` of the
        training data at the best iterate. After :meth:`partial_fit`, that
        of the last chunk, each minibatch scored before the step that learns
        from it (:meth:`score_samples` scores a chunk with the final model).
    reinitialized_experts_ : list of (int, int)
        (iteration, expert) pairs at which the best run re-initialised a dead
        expert; indices refer to the order during fitting.
    dead_experts_ : ndarray of int
        Experts of the returned model whose total responsibility is below
        ``min_expert_weight``.
    failed_experts_ : list of dict
        The experts that failed during the returned run
        (``expert_errors='isolate'``), one dict each: ``expert`` (its index
        in ``experts_``), ``estimator``, ``iteration``, ``run``, ``error``
        (the exception) and ``in_fitted_model`` (False: its slot in
        ``experts_`` is a failed placeholder with gate probability 0; True:
        the returned iterate predates the failure). Empty when none failed.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names.
"""


# The words that differ between the flat estimators, by kind.
_KMEANS_EXTRA = {
    "regressor": " and the target",
    "classifier": " and the one-hot labels",
}
_GRADIENT_DOC = {
    "regressor": (
        "``LinearRegression`` or\n        ``Ridge``",
        " and the noise\n        variances",
    ),
    "classifier": (
        "``LogisticRegression``\n        with an L2 penalty or none",
        "",
    ),
}
_DEFAULT_GATE_DOC = {
    "regressor": (
        "``SoftmaxGate()`` (on standardised\n        features, so the fit does "
        "not depend on the features' units, with\n        a penalty ``C=1e4`` "
        "too weak to move the likelihood's optimum\n        visibly; "
        "``SoftmaxGate(C=100)`` smooths more)"
    ),
    "classifier": (
        "``SoftmaxGate(C=1.0)`` (on\n        standardised features, so the fit "
        "does not depend on the features'\n        units): a smooth gate, "
        "which held out beats a sharp one in log-loss\n        on the vowel, "
        "Satellite and LetterRecognition data (see the user\n        guide's "
        '"The gate")'
    ),
}
_VARIANCE_PARAM_DOC = {
    "regressor": ", and the noise variance",
    "classifier": "",
}
_DEFAULT_EXPERT_DOC = {
    "regressor": "``LinearRegression()``",
    "classifier": (
        "``LogisticRegression(tol=1e-6,\n        max_iter=1000)``: "
        "scikit-learn's default ``tol=1e-4``\n        leaves the M-steps "
        "inexact enough for EM to stop early, on a\n        flat stretch of "
        "its objective. ``LogisticRegression`` experts\n"
        "        with an L2 penalty (or none) and no ``class_weight`` are\n"
        "        refitted by skmoe's own Newton solver on standardised\n"
        "        features (the same objective, whatever their ``solver``;\n"
        "        its steps do not depend on the features' units)"
    ),
}


# (default, where it is sound, why that default), wrapped for the docstring.
_ACCELERATION_DOC = {
    "regressor": (
        "None",
        ":\n        ``LinearRegression`` or ``Ridge`` experts with the Gaussian "
        "likelihood",
        "Off by default: where EM converges in a few\n        iterations (the "
        "default's case on well-separated data), its cycles\n        of three "
        "steps cost more than they save.",
    ),
    "classifier": (
        "'auto'",
        ":\n        ``LogisticRegression`` experts with an L2 penalty or none and "
        "no\n        class weights (the default expert, whose warm-started "
        "Newton steps\n        are a function of its coefficients)",
        "On by default: with one Newton step per expert and\n        M-step, EM "
        "needs tens to hundreds of iterations; SQUAREM took\n        less time "
        "on every data set of the classifier benchmark and\n        reached the "
        "same or a higher objective on all but one (another\n        optimum, "
        "1.6e-3 nats per row lower).",
    ),
}


# The regressors' (flat and hierarchical) ``likelihood`` parameter, their
# text on a 2-D target, and the attributes of the families' parameters.
_LIKELIHOOD_DOC = """likelihood : {"gaussian", "student_t", "poisson", "gamma"}, \
default="gaussian"
        How the target is distributed given an expert: ``"gaussian"``, with
        a noise variance per expert (``noise_variance_``); ``"student_t"``,
        robust to outliers, a t distribution around the expert's prediction
        with its own squared scale (``noise_variance_``) and degrees of
        freedom (``df_``, kept within ``[0.5, 200]``; ``variance_floor``
        bounds the squared scales), fitted by ECM (the
        expert is refitted with the responsibilities times each row's
        precision weight as sample weights; see the user guide's "Robust
        experts: Student-t"); ``"poisson"``, counts whose mean the expert
        predicts (``PoissonRegressor`` experts by default); ``"gamma"``,
        positive targets with a dispersion ``phi_k`` per expert
        (``dispersion_``; variance ``phi_k f_k(x)^2``, ``GammaRegressor``
        experts by default). Poisson and gamma experts must predict the
        mean; a prediction at or below zero counts as ``1e-10``. All but
        the Gaussian are fitted by EM on NumPy inputs, with a 1-D ``y``."""

_MULTI_OUTPUT_PARAM_DOC = """
    covariance_type : {"full", "diag"}, default="full"
        The noise covariance of each expert when ``y`` is 2-D, of shape
        (n_samples, n_targets) (``likelihood="gaussian"``):
        ``y | x, k ~ N(f_k(x), Sigma_k)``. ``"full"``: ``Sigma_k`` is any
        covariance matrix (correlated noises; ``T (T + 1) / 2`` parameters
        per expert); ``"diag"``: a diagonal one (the targets' noises
        independent given the expert; ``T`` parameters). Both are the
        weighted maximum-likelihood estimates of each M-step, floored: each
        target's variance at least its ``variance_floor`` ``f_t`` (for
        ``"full"``, ``Sigma_k - diag(f)`` positive semidefinite). A 1-D
        ``y`` (or a column vector, raveled with a ``DataConversionWarning``)
        has one noise variance per expert whatever this says. The experts
        must fit a 2-D target (their ``multi_output`` tag); a 2-D ``y`` is
        fitted by EM on NumPy arrays, with the Gaussian likelihood."""

_LIKELIHOOD_ATTRS_DOC = """
    noise_variance_ : ndarray of shape (n_experts,), (n_experts, n_targets) \
            or (n_experts, n_targets, n_targets)
        Noise variance ``sigma_k^2`` of each expert (``likelihood=
        "gaussian"``). For a 2-D ``y``: each expert's variances of the
        targets (``covariance_type="diag"``) or its covariance matrix
        (``"full"``). With ``likelihood="student_t"``, the squared scale
        ``sigma_k^2`` of each expert's t distribution (its variance is
        ``sigma_k^2 df_k / (df_k - 2)``, infinite for ``df_k <= 2``).{leaf}
    df_ : ndarray of shape (n_experts,)
        Degrees of freedom ``nu_k`` of each expert's t distribution
        (``likelihood="student_t"``), within ``[0.5, 200]``.
    dispersion_ : ndarray of shape (n_experts,)
        Dispersion ``phi_k`` of each expert (``likelihood="gamma"``): its
        variance is ``phi_k`` times its mean squared.
    target_range_ : ndarray of shape (2,) or (2, n_targets)
        Smallest and largest value of the training targets and of the
        mixture's predictions on the training rows{chunks}; the bounds of
        ``clip_predictions``. For a 2-D ``y``, per target."""


def _regressor_doc(doc, leaf="", chunks=""):
    """A regressor's ``doc`` with its likelihood families and its text on
    2-D targets filled in."""
    attrs = _LIKELIHOOD_ATTRS_DOC.replace("{leaf}", leaf).replace("{chunks}", chunks)
    return (
        doc.replace("{likelihood}", _LIKELIHOOD_DOC)
        .replace("{multi_output}", _MULTI_OUTPUT_PARAM_DOC)
        .replace("{noise_attrs}", attrs)
    )


def _flat_doc(doc, kind):
    """``doc`` with the flat estimators' shared text filled in for ``kind``
    (``'regressor'`` or ``'classifier'``)."""
    params = (
        _COMMON_PARAMS_DOC.replace("{kmeans_extra}", _KMEANS_EXTRA[kind])
        .replace("{variance_param}", _VARIANCE_PARAM_DOC[kind])
        .replace("{default_gate}", _DEFAULT_GATE_DOC[kind])
        .replace("{default_expert}", _DEFAULT_EXPERT_DOC[kind])
        .replace("{differentiable}", _GRADIENT_DOC[kind][0])
        .replace("{variances}", _GRADIENT_DOC[kind][1])
        .replace("{acceleration_default}", _ACCELERATION_DOC[kind][0])
        .replace("{acceleration_extra}", _ACCELERATION_DOC[kind][1])
        .replace("{acceleration_why}", _ACCELERATION_DOC[kind][2])
    )
    return doc.replace("{params}", params.rstrip("\n")).replace(
        "{attrs}", _COMMON_ATTRS_DOC.rstrip("\n")
    )


_HME_PARAMS_DOC = """
    depth : int, default=2
        Number of gate levels between the root and the leaves (>= 1). A
        depth-1 tree is the flat mixture with ``branching`` experts.
    branching : int, default=2
        Number of children of every gate (>= 2). The tree has
        ``branching ** depth`` leaves, one expert each.
    expert : estimator, list of estimators or None, default=None
        The expert model. One estimator is cloned for every leaf; a list of
        ``branching ** depth`` estimators gives heterogeneous experts, leaf by
        leaf, left to right. Every nested ``random_state`` is seeded from
        ``random_state``. Experts must accept ``sample_weight`` in ``fit``
        (EM fits leaf l with the posteriors ``h_il`` times the sample
        weights); others raise a ``ValueError`` before any fitting.
        ``None`` uses {default_expert}.
    gate : SoftmaxGate or None, default=None
        Template of every node's gate, cloned once per internal node; ``None``
        uses the flat estimators' default: ``SoftmaxGate()`` (on standardised
        features, with a very weak penalty, ``C=1e4``) for the regressor,
        ``SoftmaxGate(C=1.0)`` for the classifier. The features are
        standardised once for the whole tree, so a penalty
        (``SoftmaxGate(C=...)``) means the same at every node.
    max_iter : int, default=300
        Maximum number of EM iterations per run. A tree of gates is fitted
        by EM only: gradient fitting and ``partial_fit`` are the flat
        estimators'.
    tol : float, default=1e-6
        EM stops when the objective (average log-likelihood per unit of
        sample weight, minus the gates' penalties) changes by less than
        ``tol`` and so does the gain still to come (projected from the last
        two changes, Aitken), or has not improved by more than ``tol`` for
        10 iterations without rising at each.
    n_init : int, default=1
        Number of EM runs from different initialisations; the best is kept.
    init_params : {'hierarchical', 'small_em', 'kmeans', 'random', \
'random_from_data'} or array-like, default='hierarchical'
        Initial leaf posteriors. ``'hierarchical'``: a model tree, built
        by cutting the rows into ``branching`` intervals of one feature
        (the feature and the equal-weight cuts that minimise the weighted
        residual sum of squares of a linear fit, in each interval, of
        {init_features}), and each interval again, down to the leaves, so
        that sibling leaves start on neighbouring blocks of the data;
        ``'small_em'``: the best of nine short EM runs from the
        hierarchical, k-means, random-row and random starts in turn (see
        the flat estimators); ``'kmeans'``: flat weighted k-means with
        ``branching ** depth`` clusters, leaves in cluster order;
        ``'random'``: uniform random posteriors; ``'random_from_data'``:
        nearest of random rows. An array of shape (n_samples, branching **
        depth) gives them directly.
    routing : {'soft', 'hard', 'top_k'}, default='soft'
        How predictions combine the leaves. ``'soft'``: all leaves weighted by
        their path probabilities; ``'hard'``: the leaf reached by the most
        probable branch at every node (see :meth:`apply`), evaluating only
        that leaf's expert and the ``depth`` gates on the way; ``'top_k'``:
        the ``top_k`` leaves of highest path probability, renormalised.
    top_k : int, default=2
        Number of leaves used per row when ``routing='top_k'``.
    fit_top_k : int, default=None
        Sparse EM: each E-step keeps every row's posteriors on its
        ``fit_top_k`` most responsible leaves only (renormalised), so each
        M-step fits an expert on the rows routed to it and no others.
        EM then maximises a lower bound of the log-likelihood, the sum over
        rows of the log of the kept leaves' joint mass (see the user
        guide's "Changing the experts"); ``lower_bound_`` records it,
        ``log_likelihood_`` the model's own. ``None``: dense EM, every
        expert on every row. EM only (not ``solver='gradient'`` nor
        ``partial_fit``).
    min_responsibility : float, default=1e-6
        Rows whose weight for an expert (posterior times sample weight) is at
        most this value are left out of that expert's fit, and rows whose
        posterior of reaching a node is at most this value are left out of
        that node's gate fit. 0 keeps every row.
    min_expert_weight : 'auto' or float, default='auto'
        A leaf whose total posterior ``sum_i w_i h_il`` (in rows: sample
        weights are rescaled to average one) falls below this is dead;
        ``'auto'``: one row more than the leaf's expert has parameters, and at
        least 2 (see the flat estimators). During EM a dead leaf is
        re-initialised on the rows the mixture explains worst (with a
        ``DeadExpertWarning``, recorded in ``reinitialized_experts_``); a dead
        leaf in the returned model is warned about and listed in
        ``dead_experts_``. Leaves are never
        dropped.
    expert_errors : {'isolate', 'raise'}, default='isolate'
        What EM does when a leaf's expert fails (its ``fit`` raises, or its
        outputs are invalid): ``'isolate'`` takes it out of the tree's
        mixture and fits on, with an ``ExpertFailureWarning`` and a record in
        ``failed_experts_``; ``'raise'`` propagates the error (see the flat
        estimators)."""

_HME_TAIL_DOC = """
    n_jobs : int or None, default=None
        Parallel jobs (joblib): the restarts when ``n_init > 1``, otherwise
        the expert fits of each M-step.
    random_state : int, RandomState instance or None, default=None
        Controls the initialisation, the restarts and the experts' own
        ``random_state``.
    verbose : int, default=0
        1 prints the objective, its change and the elapsed time every
        ``verbose_interval`` EM iterations and a line at the end of each
        run; 2 prints a line at every EM iteration.
    verbose_interval : int, default=10
        Iterations between two progress lines with ``verbose=1``.
    progress_bar : bool, default=False
        Show a progress bar (``tqdm.auto``; needs ``pip install tqdm``) over
        the restarts' iterations, or over the finished restarts when they run
        in parallel (``n_jobs``).
    warm_start : bool, default=False
        Continue EM from the fitted model on the next ``fit`` (``n_init`` is
        then ignored). With another ``depth`` the tree grows (every leaf
        becomes a node with an even gate over copies of its expert, each
        fitted on one part of the leaf's rows; the training log-likelihood
        never falls below the smaller tree's) or is pruned (every node at
        the new depth becomes a leaf, its expert fitted on its subtree's
        rows) before EM continues (NumPy inputs); ``branching`` must stay
        the same. See "Changing the experts" in the user guide."""

_HME_ATTRS_DOC = """
    experts_ : list of estimators
        The fitted experts, one per leaf, leaves left to right (the order of
        the tree, not sorted by share).
    gate_ : TreeGate
        The fitted tree of gates (``gate_.estimators_`` holds each node's
        :class:`SoftmaxGate`, breadth-first).
    expert_shares_ : ndarray of shape (n_experts,)
        Share of the (weighted) training data each leaf is responsible for.
    n_iter_ : int
        EM iterations of the best run.
    converged_ : bool
        Whether the best run met the stopping rule before ``max_iter``.
    lower_bound_ : float
        Best value of the EM objective (average log-likelihood per unit of
        sample weight minus the gates' and the logistic experts' L2
        penalties over the total weight).
    lower_bounds_ : ndarray of shape (n_iter_,)
        The objective after each EM iteration of the best run; it never
        decreases with experts that fit their weighted likelihood exactly.
    log_likelihood_ : float
        Total weighted training log-likelihood at the best iterate.
    reinitialized_experts_ : list of (int, int)
        (iteration, leaf) pairs at which the best run re-initialised a dead
        leaf.
    dead_experts_ : ndarray of int
        Leaves of the returned model whose total posterior is below
        ``min_expert_weight``.
    failed_experts_ : list of dict
        The experts that failed during the returned run
        (``expert_errors='isolate'``), one dict each: ``expert`` (its index
        in ``experts_``), ``estimator``, ``iteration``, ``run``, ``error``
        (the exception) and ``in_fitted_model`` (False: its slot in
        ``experts_`` is a failed placeholder with gate probability 0; True:
        the returned iterate predates the failure). Empty when none failed.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names."""

# The default expert and what the hierarchical initialisation fits, by kind.
_HME_DEFAULT_EXPERT_DOC = {
    "regressor": "``LinearRegression()``",
    "classifier": (
        "``LogisticRegression(tol=1e-6, max_iter=1000)``,\n        with "
        "Newton's solver for small problems (as for\n        "
        ":class:`MixtureOfExpertsClassifier`)"
    ),
}
_HME_INIT_FEATURES_DOC = {
    "regressor": "the target",
    "classifier": "the class indicators",
}


def _hierarchical_doc(doc, kind):
    """``doc`` with the hierarchical estimators' shared text filled in for
    ``kind`` (``'regressor'`` or ``'classifier'``)."""
    params = _HME_PARAMS_DOC.replace(
        "{default_expert}", _HME_DEFAULT_EXPERT_DOC[kind]
    ).replace("{init_features}", _HME_INIT_FEATURES_DOC[kind])
    return (
        doc.replace("{params}", params)
        .replace("{tail}", _HME_TAIL_DOC)
        .replace("{attrs}", _HME_ATTRS_DOC)
    )
