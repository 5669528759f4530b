"""Answering: the question understood, candidate sentences ranked, read, refused or composed."""
