"""Tests against the host kernel and a real FRR, in throwaway network namespaces."""
