"""xaihub methods from the shap library."""
