"""One script per seed figure or table; reads results written by sims / experiments, never trains."""
