"""Operations: the what-if plan's inputs, metrics and the incident journal (issue 17)."""
