"""Bunraku master."""
