"""Plumbing every layer uses: configs, the console, atomic files, locks, processes, the network."""
