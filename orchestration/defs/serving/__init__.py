"""What readers use: copies of the warehouse published after each successful run."""
