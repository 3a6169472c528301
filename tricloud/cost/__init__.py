"""Cost comparison: pricing catalog, usage profiles, estimator, reports (`tricloud cost`, `tricloud pricing`)."""
