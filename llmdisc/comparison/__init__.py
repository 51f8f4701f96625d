"""The comparison grid: every approach on the same splits, its cache, its shards, its extras."""
