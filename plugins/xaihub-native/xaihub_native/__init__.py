"""xaihub's native methods."""
