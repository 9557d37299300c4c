"""What readers use: the marts published after each successful run (Parquet, DuckDB 1.x file)."""
