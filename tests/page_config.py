"""The page's config as the page reads it: the JSON of ``<body data-config='…'>`` in the
served HTML (static/js/config.js parses the attribute's value; Jinja's ``tojson`` leaves no
character in it that HTML would decode)."""

from __future__ import annotations

import json
import re
from typing import Any

ATTRIBUTE = re.compile(r"<body data-config='([^']*)'>")


def page_config_of(page: str) -> dict[str, Any]:
    found = ATTRIBUTE.findall(page)
    assert len(found) == 1, "the page's <body> carries its config once"
    config: dict[str, Any] = json.loads(found[0])
    return config
