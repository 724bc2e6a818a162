"""mkdocs hook: numpydoc's Sphinx roles (``:func:`~minewatch.analyze```) read as plain code.

mkdocstrings renders the docstrings' Sphinx cross-reference roles literally (":func:" before
the code); this strips the role so the API pages show just the name in code.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|exc|obj|const):<code>~?")


def on_page_content(html: str, page: object, config: object, files: object) -> str:
    """Remove Sphinx roles left in the rendered HTML of a page."""
    return _ROLE.sub("<code>", html)
