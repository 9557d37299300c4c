"""The model fits' sums run on one BLAS thread.

numpy's and scipy's OpenBLAS split a dot product of more than 10,000 elements across one thread
per core and add the partial sums: the fitted parameters then differ in their last digits from
one machine to another (1 core vs 2), so the same data did not give the same bytes everywhere.
On a busy machine the split also cost 4-30x the CPU of one thread (the waiting threads spin):
the spend-model fits of 100,000 customers took 3.0-4.0 s CPU with two threads and 0.1-0.5 s with
one (benchmarks/README.md). Every function that sums over customers is wrapped.
"""

from threadpoolctl import threadpool_limits

one_blas_thread = threadpool_limits.wrap(limits=1, user_api="blas")
