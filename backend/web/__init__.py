"""HTTP transports: one blueprint per audience."""
