"""Selection primitives shared by every compiled kernel (a leaf: imports nothing of core).

``kth_smallest`` is Wirth/Devillard's selection exactly as astropy's ``wirth_select.c`` (same
swaps, so the buffer order it leaves -- and the summation order of whatever follows -- matches
astropy's); ``insertion_sort`` sorts a few dozen values in place without allocating.  Both work on
the first ``n`` elements of a 1-D buffer and are inlined into their callers by numba.
"""

from __future__ import annotations

import numba

BLOCK = 1024  # pixels per block of the vectorised first pass (fits L1/L2 with its sums)


@numba.njit(cache=True, inline="always")
def kth_smallest(a, n, k):
    """Wirth/Devillard selection, as astropy's wirth_select.c (same swaps: the buffer order after it
    decides the summation order of the mean and std that follow)."""
    lo = 0
    hi = n - 1
    while lo < hi:
        x = a[k]
        i = lo
        j = hi
        while True:
            while a[i] < x:
                i += 1
            while x < a[j]:
                j -= 1
            if i <= j:
                t = a[i]
                a[i] = a[j]
                a[j] = t
                i += 1
                j -= 1
            if i > j:
                break
        if j < k:
            lo = i
        if k < i:
            hi = j
    return a[k]


@numba.njit(cache=True, inline="always")
def insertion_sort(a, n):
    """Sort ``a[:n]`` in place: the fastest way for a few dozen values, no allocation."""
    for i in range(1, n):
        v = a[i]
        j = i - 1
        while j >= 0 and a[j] > v:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = v
