"""Bad inputs fail early with an error that names the input."""
import numpy as np
import pytest

from camjax.boxes import largest_component_boxes, wsol_boxes


@pytest.mark.parametrize("fn", [
    lambda m, t: largest_component_boxes(m, t),
    lambda m, t: largest_component_boxes(m, [t]),           # the many-threshold sweep
    lambda m, t: wsol_boxes(m, [t]),
])
def test_bad_maps_and_thresholds(fn):
    good = np.zeros((2, 5, 5))
    with pytest.raises(ValueError, match="dims"):
        fn(np.zeros(5), 0.5)                                   # wrong rank
    with pytest.raises(ValueError, match="NaN"):
        fn(np.full((5, 5), np.nan), 0.5)
    with pytest.raises(TypeError, match="float"):
        fn(np.zeros((5, 5), np.uint8), 0.5)                    # uint8 where float expected
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fn(good, 1.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fn(good, -0.1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fn(good, np.nan)


def test_wsol_rank_and_range():
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        wsol_boxes(np.zeros((2, 2, 5, 5)), [0.5])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        wsol_boxes(np.full((5, 5), 2.0), [0.5])                # maps not normalised
    with pytest.raises(ValueError, match="empty"):
        wsol_boxes(np.zeros((5, 5)), [])
