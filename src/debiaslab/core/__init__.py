"""The bottom layer: config loading and validation, atomic I/O and clear errors, provenance,
batching, progress lines, the score store and the statistics every table uses. Imports nothing
else of debiaslab."""
