"""One module per study, composing the library's parts."""
