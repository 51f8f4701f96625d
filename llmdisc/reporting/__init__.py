"""Reports, plots and the shared comparison, rendered from the analysis."""
