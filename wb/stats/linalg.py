"""Linear algebra the estimators share."""

from __future__ import annotations

import numpy as np

#: Eigenvalues at most this share of the largest are taken as zero when a fixed-effects normal
#: matrix is pseudo-inverted. Such a matrix (month effects with the unit effects eliminated)
#: is singular by construction, but rounding leaves its null eigenvalue at a few ulps of the
#: largest: NumPy's default cutoff (1e-15 of the largest) kept one at -1.4e-15 on one machine
#: and inverted it, giving entries of 4e11 instead of at most 0.013 (the wild bootstrap's
#: t statistics then 1.4% off). A true eigenvalue this small would mean months almost
#: unlinked by any unit, whose effects the data cannot tell apart anyway.
NULL_RCOND = 1e-10


def normal_pinv(matrix: np.ndarray) -> np.ndarray:
    """The pseudo-inverse of a symmetric positive semi-definite matrix (or a stack of them),
    its null space cut at :data:`NULL_RCOND`."""
    return np.linalg.pinv(matrix, rcond=NULL_RCOND, hermitian=True)
