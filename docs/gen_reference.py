"""Writes the API reference at build time: one page per module of ``tfml`` (mkdocs-gen-files),
each rendered by mkdocstrings from the module's docstrings, and their navigation (literate-nav)."""

from pathlib import Path

import mkdocs_gen_files

PACKAGE = Path(__file__).resolve().parent.parent / "tfml"
LAYERS = ("config", "io", "paths", "distances", "startup", "data", "pipelines", "models", "losses", "training")
LAYERS += ("retrieval", "viz", "zoo", "workflows", "commands", "cli")  # the import-linter layers, bottom up


def layer_rank(parts: tuple[str, ...]) -> tuple[int, tuple[str, ...]]:
    return (LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else len(LAYERS), parts)


navigation = mkdocs_gen_files.Nav()
modules = []
for path in PACKAGE.rglob("*.py"):
    parts = ("tfml", *path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__main__" or any(part.startswith("_") and part != "__init__" for part in parts):
        continue
    modules.append(parts[:-1] if parts[-1] == "__init__" else parts)
for parts in sorted(modules, key=layer_rank):
    page = Path("reference", *parts).with_suffix(".md")
    if parts == ("tfml",):
        page = Path("reference", "index.md")
    navigation[parts] = page.relative_to("reference").as_posix()
    with mkdocs_gen_files.open(page, "w") as out:
        out.write(f"# `{'.'.join(parts)}`\n\n::: {'.'.join(parts)}\n")
with mkdocs_gen_files.open("reference/SUMMARY.md", "w") as out:
    out.writelines(navigation.build_literate_nav())
