"""Salesforce OmniXAI's vision methods as xaihub methods."""
