"""Language-model blocks: loading, devices, batch sizes, log-likelihoods, generation, prompts."""
