"""The teacher's join card: the class code in large type and the server's QR code of the class
link, with the address to type; a phone that opens that link follows the class."""

from __future__ import annotations

import json
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import pytest

from .conftest import Playground, opened

pytestmark = pytest.mark.browser
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 3,
}


def teachers_class(playground: Playground) -> dict[str, Any]:
    """GET /api/classes/current with the teacher token this tab keeps, outside the browser."""
    saved = json.loads(playground.page.evaluate("sessionStorage.getItem('playground.class')"))
    request = urllib.request.Request(
        f"{playground.url}/api/classes/current",
        headers={"Authorization": f"Bearer {saved['teacherToken']}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def test_the_teacher_sees_the_code_large_and_a_qr_code_of_the_link(
    playground: Playground,
) -> None:
    teacher = playground.page
    card = teacher.locator("#class-join")
    assert card.is_hidden()
    teacher.click("#share-button")
    teacher.click("#open-class-button")
    card.wait_for()
    current = teachers_class(playground)
    code = teacher.locator("#class-join-code")
    assert code.inner_text() == current["code"]
    assert float(code.evaluate("el => getComputedStyle(el).fontSize").removesuffix("px")) >= 48
    qr = teacher.locator("#class-join-qr")
    assert qr.get_attribute("src") == current["join_qr"]  # the server's QR code, as it made it
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0"), "the QR code did not load"
    box = qr.bounding_box()
    assert box is not None and min(box["width"], box["height"]) >= 180
    assert current["join_url"] == f"{playground.url}/#class={current['code']}"
    assert current["join_url"] in (qr.get_attribute("alt") or "")
    assert teacher.inner_text("#class-join-address") == urlsplit(playground.url).netloc
    assert teacher.input_value("#class-link") == current["join_url"]
    playground.screenshot("class-join.png", "#share-panel")

    browser = teacher.context.browser
    assert browser is not None
    phone = browser.new_context(**PHONE)
    try:
        with opened(phone.new_page(), current["join_url"]) as student:
            assert student.state()["sessionId"] == playground.state()["sessionId"]
            assert student.state()["role"] == "watch"
            teacher.wait_for_selector("#class-students[data-count='1']")
    finally:
        phone.close()

    teacher.click("#end-class-button")
    card.wait_for(state="hidden")
