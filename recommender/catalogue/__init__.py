"""Organisations, projects and participations: build from sources, load, validate, add."""

from recommender.catalogue.build import Catalogue, build_catalogue
from recommender.catalogue.curated import load_curated
from recommender.catalogue.stats import catalogue_stats
from recommender.catalogue.store import load_catalogue, save_catalogue
from recommender.catalogue.useradd import AddReport, RowError, add_organisations

__all__ = [
    "AddReport",
    "Catalogue",
    "RowError",
    "add_organisations",
    "build_catalogue",
    "catalogue_stats",
    "load_catalogue",
    "load_curated",
    "save_catalogue",
]
