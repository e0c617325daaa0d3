"""Adapters for data-processing frameworks; each module imports its framework lazily.

- `unspin.integrations.datatrove`: ``UnspinFilter`` and ``UnspinFormatter`` pipeline steps
  (``pip install 'unspin[datatrove]'``).
- `unspin.integrations.dolma`: the ``unspin`` tagger (``pip install dolma``).

Importing this package imports neither framework.
"""
