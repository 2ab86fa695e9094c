"""The app's JSON response: orjson, so NaN and infinity become ``null`` and never a 500.

FastAPI 0.165 deprecates its own ``ORJSONResponse`` (it warns on every response); this is the
same few lines without the warning.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class OrjsonResponse(JSONResponse):
    """JSON via orjson: NaN and ±infinity are written ``null``; NumPy arrays are allowed."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)
