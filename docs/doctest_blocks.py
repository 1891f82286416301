"""A griffe extension: the doctest examples of tfml's docstrings (``>>>`` lines and their output)
become ``pycon`` code blocks, so the API reference shows them as code, not as Markdown quotes."""

import re

import griffe

DOCTEST = re.compile(r"(?m)^(?P<indent>[ \t]*)>>> .*(?:\n(?P=indent)(?!\s*$).*)*")


class DoctestBlocks(griffe.Extension):
    def on_object(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = DOCTEST.sub(fence, obj.docstring.value)


def fence(match: re.Match) -> str:
    indent = match.group("indent")
    return f"{indent}```pycon\n{match.group(0)}\n{indent}```"
