"""Labelled text data: load any source as text + ClassLabel, data files, stratified subsets."""
