"""One module per page group; each view is thin: a form, a selector or service, a template."""
