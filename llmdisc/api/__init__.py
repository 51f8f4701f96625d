"""The typed records that cross the joints between the layers, and the analysis's result."""
