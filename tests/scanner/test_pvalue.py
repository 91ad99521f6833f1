"""The scanner's p-values are statsmodels' MacKinnon function, bit for bit, on whole arrays."""

from __future__ import annotations

import numpy as np
from statsmodels.tsa.adfvalues import mackinnonp

from pairs_tui.scanner.lag_search import coint_pvalue


def test_array_p_values_equal_mackinnonp_everywhere() -> None:
    # Both tails of the table (p = 0 below -18.86, 1 above 0.92), the switch between its two
    # polynomials at -2.62, and a dense sweep between.
    stats = np.r_[
        np.linspace(-25.0, 3.0, 281),
        [-18.86, -18.8600001, -2.62, -2.6200001, -2.6199999, 0.92, 0.9200001],
        -np.random.default_rng(0).exponential(3.0, 100),
    ]
    expected = [mackinnonp(float(s), regression="c", N=2) for s in stats]
    assert coint_pvalue(stats).tolist() == expected
    assert coint_pvalue(stats).min() == 0.0 and coint_pvalue(stats).max() == 1.0
