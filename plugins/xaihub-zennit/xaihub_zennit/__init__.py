"""xaihub plugin: Layer-wise Relevance Propagation by zennit."""
