"""Metrics, one module per benchmark family; plain functions of references and predictions."""
