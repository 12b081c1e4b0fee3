"""Evaluation: FID, KID, IS, precision/recall, density/coverage and classifier scores.

    from gankit.metrics import evaluate
    evaluate(samples, "mnist", metrics="fid,kid,pr", data_root="data")
    # {'fid': ..., 'kid': ..., 'kid_std': ..., 'precision': ..., 'recall': ...}

Features come from a named extractor (``mnist``: the built-in digit classifier, the default for small
grayscale images; ``inception``: the FID InceptionV3) or any torch module. See docs/metrics.md.
"""

from gankit.metrics.evaluate import (
    ALIASES,
    DEFAULT_METRICS,
    METRICS,
    EvalOptions,
    classify,
    evaluate,
    load_images,
    parse_metrics,
    reference_features,
)
from gankit.metrics.extractors import EXTRACTORS, FeatureExtractor, get_extractor
from gankit.metrics.fid import feature_stats, frechet_distance
from gankit.metrics.inception_score import inception_score
from gankit.metrics.kid import kid
from gankit.metrics.knn import manifold_metrics
from gankit.metrics.reference import FeatureSet

__all__ = ["ALIASES", "DEFAULT_METRICS", "EXTRACTORS", "METRICS", "EvalOptions", "FeatureExtractor", "FeatureSet",
           "classify", "evaluate", "feature_stats", "frechet_distance", "get_extractor", "inception_score", "kid",
           "load_images", "manifold_metrics", "parse_metrics", "reference_features"]
