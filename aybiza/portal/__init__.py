"""The tenant web portal: server-rendered pages over the same services and selectors as the API.

Mounted at /portal/ (aybiza/urls.py); templates in templates/portal/, CSS in static/portal/.
"""
