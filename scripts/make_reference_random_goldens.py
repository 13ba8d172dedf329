#!/usr/bin/python3
"""Golden values for ReferenceRandom (src/longctx/mix/selector.h).

The reference mixture script draws its short-document filter from numpy's legacy global
generator after np.random.seed(15213). This prints the first draws for the seeds the tests use,
from numpy itself (Debian's python3-numpy), in the form pasted into selector_test.cpp.
"""
import numpy

for seed in (15213, 42, 0):
    numpy.random.seed(seed)
    values = ", ".join(repr(float(x)) for x in numpy.random.random(5))
    print(f"{{{seed}, {{{values}}}}},")
