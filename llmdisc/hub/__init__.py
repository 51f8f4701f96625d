"""The Hugging Face Hub: model cards, checks that fail before training, uploads, downloads."""
