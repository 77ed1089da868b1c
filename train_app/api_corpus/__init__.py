"""A corpus of real API operations as tools: fetched and checked (npm_fetch), converted
(openapi, botocore_models), curated, cached (build) and split by provider (split).

    python -m train_app.api_corpus
"""
