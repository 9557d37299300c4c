"""The static HTML report of the serving publication, built after each successful run."""
