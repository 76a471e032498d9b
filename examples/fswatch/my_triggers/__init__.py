"""Filesystem-watch triggers for Stargraph: the how-to's example, installable."""
