"""Data files of tricloud.cost (a package so that wheels ship them)."""
