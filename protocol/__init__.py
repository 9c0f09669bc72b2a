"""Wire formats of statenode: pure, no I/O (bytes in, objects out)."""
