"""Reports to the authorities: CyberTipline (NCMEC) and other hotlines (principles 1-5, 9)."""
