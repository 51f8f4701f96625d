"""Classification metrics from predicted probabilities, and the one table that defines them."""
