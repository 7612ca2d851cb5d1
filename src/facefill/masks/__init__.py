"""Mask operations (`ops`), generators (`generate`) and statistics (`stats`); 1 = hole everywhere."""
