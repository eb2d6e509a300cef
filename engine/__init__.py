"""Bunraku engine."""
