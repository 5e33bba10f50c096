"""Datasets built from real data that Python packages ship."""
