"""Loaders for the real data sets bundled with skmoe.

The files live in ``skmoe/datasets/data/`` (provenance in its ``README.md``);
each loader follows :func:`sklearn.datasets.load_diabetes`.
"""

from importlib import resources

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from . import _descr

__all__ = [
    "load_abalone",
    "load_concrete",
    "load_energy",
    "load_mcycle",
    "load_tonedata",
    "load_vowel",
    "load_yacht",
]


def _read_csv(filename, **kwargs):
    """Read a bundled CSV file into a DataFrame."""
    ref = resources.files(__package__).joinpath("data", filename)
    with resources.as_file(ref) as path:
        return pd.read_csv(path, **kwargs)


def _read_index(filename):
    """Read a bundled list of 0-based column indices (one per line)."""
    frame = _read_csv(filename, header=None)
    if frame.shape[1] != 1:
        raise ValueError(f"{filename} must hold one column index per line.")
    return frame.iloc[:, 0].to_numpy(dtype=np.int64, copy=True)


def _check_columns(frame, expected, filename):
    """Fail loudly if a bundled file's columns are not the expected ones."""
    if list(frame.columns) != list(expected):
        raise ValueError(
            f"{filename} has columns {list(frame.columns)}, expected {list(expected)}."
        )


def _regression_bunch(X, y, *, descr, return_X_y, as_frame, extra=None):
    """Package a regression data set like sklearn's loaders.

    ``X`` is a DataFrame (whose columns are the feature names), ``y`` a Series
    (whose name is the target name).
    """
    feature_names = list(X.columns)
    if as_frame:
        data, target = X, y.astype(np.float64)
        frame = pd.concat([data, target], axis=1)
    else:
        data = X.to_numpy(dtype=np.float64, copy=True)
        target = y.to_numpy(dtype=np.float64, copy=True)
        frame = None
    if return_X_y:
        return data, target
    bunch = Bunch(
        data=data,
        target=target,
        frame=frame,
        feature_names=feature_names,
        target_name=y.name,
        DESCR=descr,
    )
    if extra:
        bunch.update(extra)
    return bunch


def _load_two_columns(filename, feature, target, descr, return_X_y, as_frame):
    df = _read_csv(filename)
    _check_columns(df, [feature, target], filename)
    X = df[[feature]].astype(np.float64)
    y = df[target].astype(np.float64)
    return _regression_bunch(
        X, y, descr=descr, return_X_y=return_X_y, as_frame=as_frame
    )


def load_mcycle(*, return_X_y=False, as_frame=False):
    """Load the motorcycle crash-helmet data (regression, 133 rows, 1 feature).

    Head acceleration ``accel`` (g) against time after impact ``times`` (ms):
    three regimes with strongly heteroscedastic noise, the classic mixture of
    experts example (Silverman 1985; R's ``MASS::mcycle``).

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame, ``target`` a Series and
        ``frame`` a DataFrame holding both.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` ndarray of shape (133, 1) float64 (or DataFrame),
        ``target`` ndarray of shape (133,) float64 (or Series),
        ``frame`` (DataFrame of shape (133, 2) when ``as_frame=True``, else None),
        ``feature_names`` (``["times"]``), ``target_name`` (``"accel"``) and
        ``DESCR`` (source, licence, references).
    (data, target) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> from skmoe.datasets import load_mcycle
    >>> X, y = load_mcycle(return_X_y=True)
    >>> X.shape, y.shape
    ((133, 1), (133,))
    """
    return _load_two_columns(
        "mcycle.csv", "times", "accel", _descr.MCYCLE, return_X_y, as_frame
    )


def load_tonedata(*, return_X_y=False, as_frame=False):
    """Load the tone perception data (regression, 150 rows, 1 feature).

    Perceived tone ratio ``tuned`` against ``stretchratio``: two crossing
    regression lines (Cohen 1984; R's ``mixtools::tonedata``).

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame, ``target`` a Series and
        ``frame`` a DataFrame holding both.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` ndarray of shape (150, 1) float64 (or DataFrame),
        ``target`` ndarray of shape (150,) float64 (or Series), ``frame``,
        ``feature_names`` (``["stretchratio"]``), ``target_name``
        (``"tuned"``) and ``DESCR``.
    (data, target) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> from skmoe.datasets import load_tonedata
    >>> X, y = load_tonedata(return_X_y=True)
    >>> X.shape, y.shape
    ((150, 1), (150,))
    """
    return _load_two_columns(
        "tonedata.csv",
        "stretchratio",
        "tuned",
        _descr.TONEDATA,
        return_X_y,
        as_frame,
    )


# Feature and target names from the UCI documentation, in file column order.
_UCI_NAMES = {
    "concrete": (
        [
            "cement",
            "blast_furnace_slag",
            "fly_ash",
            "water",
            "superplasticizer",
            "coarse_aggregate",
            "fine_aggregate",
            "age",
        ],
        "compressive_strength",
    ),
    "energy": (
        [
            "relative_compactness",
            "surface_area",
            "wall_area",
            "roof_area",
            "overall_height",
            "orientation",
            "glazing_area",
            "glazing_area_distribution",
        ],
        "heating_load",
    ),
    "yacht": (
        [
            "longitudinal_position",
            "prismatic_coefficient",
            "length_displacement_ratio",
            "beam_draught_ratio",
            "length_beam_ratio",
            "froude_number",
        ],
        "residuary_resistance",
    ),
}


def _load_uci(name, descr, return_X_y, as_frame):
    """Load one of the UCI regression benchmarks (headerless CSV + index files).

    The column roles come from the benchmark's ``index_features`` and
    ``index_target`` files; a mismatch with the documented names raises.
    """
    feature_names, target_name = _UCI_NAMES[name]
    filename = f"{name}.csv"
    values = _read_csv(filename, header=None).to_numpy(dtype=np.float64, copy=True)
    idx_features = _read_index(f"{name}_index_features.csv")
    idx_target = _read_index(f"{name}_index_target.csv")
    n_columns = values.shape[1]
    problems = []
    if len(idx_features) != len(feature_names):
        problems.append(
            f"index_features lists {len(idx_features)} columns but "
            f"{len(feature_names)} feature names are documented"
        )
    if len(idx_target) != 1:
        problems.append(f"index_target lists {len(idx_target)} columns, expected 1")
    if n_columns != len(feature_names) + 1:
        problems.append(
            f"the file has {n_columns} columns, expected {len(feature_names) + 1}"
        )
    used = np.concatenate([idx_features, idx_target])
    if sorted(used.tolist()) != list(range(n_columns)):
        problems.append(
            f"indices {used.tolist()} are not a permutation of range({n_columns})"
        )
    if problems:
        raise ValueError(
            f"Bundled data set {name!r} is inconsistent: " + "; ".join(problems) + "."
        )
    X = pd.DataFrame(values[:, idx_features], columns=feature_names)
    y = pd.Series(values[:, idx_target[0]], name=target_name)
    return _regression_bunch(
        X, y, descr=descr, return_X_y=return_X_y, as_frame=as_frame
    )


def load_concrete(*, return_X_y=False, as_frame=False):
    """Load the UCI concrete compressive strength data (regression, 1030 x 8).

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame, ``target`` a Series and
        ``frame`` a DataFrame holding both.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` ndarray of shape (1030, 8) float64 (or DataFrame),
        ``target`` ndarray of shape (1030,) float64 (or Series), ``frame``,
        ``feature_names`` (cement, blast_furnace_slag, fly_ash, water,
        superplasticizer, coarse_aggregate, fine_aggregate, age),
        ``target_name`` (``"compressive_strength"``) and ``DESCR``.
    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    ValueError
        If the bundled file's columns disagree with its index files.

    Examples
    --------
    >>> from skmoe.datasets import load_concrete
    >>> X, y = load_concrete(return_X_y=True)
    >>> X.shape, y.shape
    ((1030, 8), (1030,))
    """
    return _load_uci("concrete", _descr.CONCRETE, return_X_y, as_frame)


def load_energy(*, return_X_y=False, as_frame=False):
    """Load the UCI energy efficiency data, heating load (regression, 768 x 8).

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame, ``target`` a Series and
        ``frame`` a DataFrame holding both.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` ndarray of shape (768, 8) float64 (or DataFrame),
        ``target`` ndarray of shape (768,) float64 (or Series), ``frame``,
        ``feature_names`` (relative_compactness, surface_area, wall_area,
        roof_area, overall_height, orientation, glazing_area,
        glazing_area_distribution), ``target_name`` (``"heating_load"``) and
        ``DESCR``.
    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    ValueError
        If the bundled file's columns disagree with its index files.

    Examples
    --------
    >>> from skmoe.datasets import load_energy
    >>> X, y = load_energy(return_X_y=True)
    >>> X.shape, y.shape
    ((768, 8), (768,))
    """
    return _load_uci("energy", _descr.ENERGY, return_X_y, as_frame)


def load_yacht(*, return_X_y=False, as_frame=False):
    """Load the UCI yacht hydrodynamics data (regression, 308 x 6).

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame, ``target`` a Series and
        ``frame`` a DataFrame holding both.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` ndarray of shape (308, 6) float64 (or DataFrame),
        ``target`` ndarray of shape (308,) float64 (or Series), ``frame``,
        ``feature_names`` (longitudinal_position, prismatic_coefficient,
        length_displacement_ratio, beam_draught_ratio, length_beam_ratio,
        froude_number), ``target_name`` (``"residuary_resistance"``) and
        ``DESCR``.
    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    ValueError
        If the bundled file's columns disagree with its index files.

    Examples
    --------
    >>> from skmoe.datasets import load_yacht
    >>> X, y = load_yacht(return_X_y=True)
    >>> X.shape, y.shape
    ((308, 6), (308,))
    """
    return _load_uci("yacht", _descr.YACHT, return_X_y, as_frame)


_ABALONE_FILE_COLUMNS = ["Sex", "Length", "Diam", "Ht", "WWt", "SWt", "VWt", "Shell"]
_ABALONE_NUMERIC = [
    "Length",
    "Diameter",
    "Height",
    "Whole_weight",
    "Shucked_weight",
    "Viscera_weight",
    "Shell_weight",
]
_ABALONE_SEXES = ["F", "I", "M"]


def load_abalone(*, return_X_y=False, as_frame=False):
    """Load the UCI abalone data (regression, 4177 rows; predict ``Rings``).

    ``Sex`` is categorical (F, I, M). With ``as_frame=False`` it is one-hot
    encoded into the float columns ``Sex_F, Sex_I, Sex_M`` (first), followed by
    the 7 numeric measurements: 10 columns in all. With ``as_frame=True`` the
    DataFrame keeps a single ``Sex`` column of pandas ``Categorical`` dtype
    (categories F, I, M) and 8 columns in all.

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame, ``target`` a Series and
        ``frame`` a DataFrame holding both.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` ndarray of shape (4177, 10) float64, or DataFrame of shape
        (4177, 8); ``target`` ndarray of shape (4177,) float64 (or Series),
        ``frame``, ``feature_names`` (the columns of ``data``),
        ``target_name`` (``"Rings"``) and ``DESCR``.
    (data, target) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> from skmoe.datasets import load_abalone
    >>> bunch = load_abalone()
    >>> bunch.data.shape, bunch.feature_names[:3]
    ((4177, 10), ['Sex_F', 'Sex_I', 'Sex_M'])
    """
    filename = "abalone.csv"
    df = _read_csv(filename)
    _check_columns(df, _ABALONE_FILE_COLUMNS + ["Rings"], filename)
    sex = df["Sex"].astype(str)
    unknown = sorted(set(sex) - set(_ABALONE_SEXES))
    if unknown:
        raise ValueError(f"{filename} has unknown Sex values {unknown}.")
    numeric = df[_ABALONE_FILE_COLUMNS[1:]].astype(np.float64)
    numeric.columns = _ABALONE_NUMERIC
    y = df["Rings"].astype(np.float64)
    if as_frame:
        sex_col = pd.Categorical(sex, categories=_ABALONE_SEXES)
        X = pd.concat([pd.DataFrame({"Sex": sex_col}), numeric], axis=1)
    else:
        onehot = pd.DataFrame(
            {f"Sex_{s}": (sex == s).astype(np.float64) for s in _ABALONE_SEXES}
        )
        X = pd.concat([onehot, numeric], axis=1)
    return _regression_bunch(
        X, y, descr=_descr.ABALONE, return_X_y=return_X_y, as_frame=as_frame
    )


_VOWEL_FEATURES = [f"V{i}" for i in range(2, 11)]
_VOWEL_N_TRAIN = 528


def load_vowel(*, return_X_y=False, as_frame=False):
    """Load the Deterding vowel recognition data (classification, 990 x 9).

    Eleven vowel classes (string labels such as ``"hid"``, ``"hId"``; case
    matters). The file's ``V1`` column is the speaker number, not a feature: it
    is dropped from ``data`` and returned as ``speaker``. The customary split
    (first 528 rows, speakers 0-7, for training; the other 462, speakers 8-14,
    for testing) is the boolean ``train_mask``.

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame, ``target`` a categorical
        Series (categories ``target_names``) and ``frame`` a DataFrame holding
        both.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` ndarray of shape (990, 9) float64 (or DataFrame),
        ``target`` ndarray of shape (990,) of object dtype holding the labels
        (or Series), ``frame``, ``feature_names`` (``V2`` ... ``V10``),
        ``target_names`` ndarray of the 11 sorted labels, ``train_mask``
        boolean ndarray of shape (990,), ``speaker`` int64 ndarray of shape
        (990,) and ``DESCR``.
    (data, target) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> from skmoe.datasets import load_vowel
    >>> bunch = load_vowel()
    >>> X_train = bunch.data[bunch.train_mask]
    >>> X_train.shape, len(bunch.target_names)
    ((528, 9), 11)
    """
    filename = "vowel.csv"
    df = _read_csv(filename, dtype={"V1": np.int64, "Class": str})
    _check_columns(df, ["V1"] + _VOWEL_FEATURES + ["Class"], filename)
    speaker = df["V1"].to_numpy(dtype=np.int64, copy=True)
    labels = df["Class"].to_numpy(dtype=object, copy=True)
    target_names = np.unique(labels)
    train_mask = np.zeros(len(df), dtype=bool)
    train_mask[:_VOWEL_N_TRAIN] = True
    X = df[_VOWEL_FEATURES].astype(np.float64)
    if as_frame:
        data = X
        target = pd.Series(
            pd.Categorical(labels, categories=target_names), name="Class"
        )
        frame = pd.concat([data, target], axis=1)
    else:
        data = X.to_numpy(dtype=np.float64, copy=True)
        target = labels
        frame = None
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        frame=frame,
        feature_names=list(_VOWEL_FEATURES),
        target_names=target_names,
        target_name="Class",
        train_mask=train_mask,
        speaker=speaker,
        DESCR=_descr.VOWEL,
    )
