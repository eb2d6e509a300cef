"""Bunraku agent."""
