"""Attention-based explanations of torch vision transformers for xaihub: attention rollout and
transformer attribution (Chefer et al. 2021)."""
