"""Shared model code below serve_app and train_app: fetch, convert, load, render, generate."""
