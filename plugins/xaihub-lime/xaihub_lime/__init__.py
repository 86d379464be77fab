"""xaihub methods from the lime library."""
