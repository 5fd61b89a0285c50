"""Matching: indexes that find every stored signal within a threshold, and hash banks.

Pure core: no web or database imports. The service layer keeps these indexes in memory and
feeds them from storage.
"""
