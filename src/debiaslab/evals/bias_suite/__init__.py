"""The standard bias benchmarks on a run's model: BBQ, WinoGender, StereoSet and CrowS-Pairs.

One module per benchmark (`bbq`, `winogender`, `stereoset`, `crows_pairs`), each with a `score`
entry that returns score-store values; `suite` runs the configured ones on one loaded model (the
`bias_suite` evaluation). Their formulas live in `debiaslab.metrics.bias_benchmarks`; `likelihood`
holds the sentence scores they share. Causal LMs get all four; masked LMs the two that define a
masked-LM score (CrowS-Pairs and StereoSet).
"""
