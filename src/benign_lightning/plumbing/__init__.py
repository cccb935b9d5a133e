"""What every layer uses: atomic writes (``io``), the errors a user sees (``errors``), a quiet
console (``quiet``) and the collectives across DDP ranks (``distributed``)."""
