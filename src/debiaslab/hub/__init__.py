"""Models and datasets from the Hugging Face Hub or local copies: the references a config names and
their download for offline nodes (`download`), datasets read by name, folder or file (`datasets`),
and GGUF checkpoints turned into Hub-format folders (`gguf`)."""
