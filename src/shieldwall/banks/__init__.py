"""Hash banks: named lists of hashes of verified material (block) or known false positives
(allow), with provenance for every entry."""
