"""Layer-wise Relevance Propagation for torch models, from captum's ``LRP``."""
