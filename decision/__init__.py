"""Tunefolio's decision engine: when is a fine-tune worth it, and does it still pay?

Pure Python and pandas, no Django: build a :class:`Portfolio`, pick a :class:`Policy`, call
:func:`evaluate`. See ``decision/README.md`` for how each rule maps to the article.
"""
