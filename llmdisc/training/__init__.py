"""The training loop every neural approach shares: Trainer, checkpoints, LM losses, passes."""
