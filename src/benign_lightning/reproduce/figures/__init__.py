"""One file per figure or table of the paper (and beyond it); ``registry`` collects them in the
paper's order. Helpers shared by several figures: ``shared``, ``fine2coarse``, ``rare``."""
