"""The industry accountability tracker: who committed to the Voluntary Principles, what each
company published, NCMEC's counts, and whether the numbers add up (issue 7)."""
