"""How a `debiaslab` process runs: its tuning (allocator, garbage collector, threads; `process`) and
the warm-start server that forks each local job from one process that imported torch once
(`warm_start`)."""
