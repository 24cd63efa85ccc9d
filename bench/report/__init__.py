"""The report stage: results/tables -> reports/ (static, offline HTML: leaderboards, a page per study,
per variant and per new method; templates/ holds the jinja2 templates)."""
