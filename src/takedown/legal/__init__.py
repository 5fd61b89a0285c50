"""Legal duties: the evidence kept for reported, held and confirmed items."""
