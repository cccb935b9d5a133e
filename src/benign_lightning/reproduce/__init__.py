"""One command per paper figure: ``python -m benign_lightning.reproduce FIGURE... --scale S``.

``registry`` holds every figure and its claims; ``runner`` runs the sweeps through the normal app;
``results`` reads the finished runs; ``report`` writes what the claims came to.
"""
