"""Show a package object's source in a notebook, syntax-highlighted, so the
learner reads the code that actually runs."""

import html
import inspect

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer


class SourceCode:
    """Rich display of one object's source (HTML in Jupyter, text elsewhere)."""

    def __init__(self, obj):
        self.obj = obj
        self.code = inspect.getsource(obj)
        module = inspect.getmodule(obj)
        self.origin = module.__name__ if module else "?"

    def _repr_html_(self):
        body = highlight(self.code, PythonLexer(), HtmlFormatter(noclasses=True, nowrap=False))
        caption = f"<div style='font-size:0.85em;color:#666'>source: <code>{html.escape(self.origin)}</code></div>"
        return caption + body

    def __repr__(self):
        return f"# source: {self.origin}\n{self.code}"


def show_source(obj):
    """Return a displayable view of `obj`'s source (a class, function or module)."""
    return SourceCode(obj)
