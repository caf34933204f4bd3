"""Runs imageio's own image_as_uint (the reference) on the cases read as JSON
from stdin, and prints the results as JSON: for each case the output values
and dtype, the warning imageio logged, or the error it raised.

One imageio bug is worked around: for signed integers whose range does not
fit their own dtype (int8 [-128, 127]), imageio computes `ma - mi` in that
dtype, which overflows under numpy 2 and trips its own assertion. For those
cases the stretch is recomputed with `mi` and `ma` as float64 (what the
formula means, and what imageio-rs does), and the case is marked."""

import json
import logging
import sys
import warnings

import numpy as np
from imageio.core.util import image_as_uint


class Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def main():
    cases = json.load(sys.stdin)
    capture = Capture()
    logger = logging.getLogger("imageio")
    logger.addHandler(capture)
    logger.propagate = False
    results = []
    for case in cases:
        values = [float("nan") if v is None else v for v in case["values"]]
        im = np.array(values, dtype=case["dtype"])
        capture.messages = []
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # numpy's NaN cast warning
                out = image_as_uint(im, bitdepth=case["bitdepth"])
            results.append(
                {
                    "out": [int(v) for v in out.tolist()],
                    "dtype": str(out.dtype),
                    "warning": capture.messages[-1] if capture.messages else None,
                    "error": None,
                }
            )
        except AssertionError:
            # imageio's overflow (see above): the same formula in float64.
            mi, ma = float(np.nanmin(im)), float(np.nanmax(im))
            scale = 2.0**case["bitdepth"] - 1 if case["bitdepth"] else 255.0
            fixed = (im.astype("float64") - mi) / (ma - mi) * scale + 0.499999999
            out = fixed.astype("uint16" if case["bitdepth"] == 16 else "uint8")
            results.append(
                {
                    "out": [int(v) for v in out.tolist()],
                    "dtype": str(out.dtype),
                    "warning": capture.messages[-1] if capture.messages else None,
                    "error": None,
                    "imageio_overflow": True,
                }
            )
        except Exception as e:  # the reference's error text is the expectation
            results.append({"out": None, "dtype": None, "warning": None, "error": str(e)})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
