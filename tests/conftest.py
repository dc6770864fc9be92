"""Test-session settings.

scikit-learn's ``array_api_dispatch`` needs SciPy's array-API support, which
SciPy reads from ``SCIPY_ARRAY_API`` once, when it is first imported. Setting
it here, before any test module imports SciPy, lets the array-API tests (and
scikit-learn's own array-API estimator checks) run with array-api-strict on
the CPU; NumPy inputs behave the same with it set.
"""

import os
import sys

if "scipy" not in sys.modules:
    os.environ.setdefault("SCIPY_ARRAY_API", "1")
