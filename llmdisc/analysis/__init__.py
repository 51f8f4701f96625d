"""One analysis of a comparison, computed once: intervals, paired tests, claims, the verdict."""
