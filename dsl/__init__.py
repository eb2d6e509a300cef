"""Bunraku dsl."""
