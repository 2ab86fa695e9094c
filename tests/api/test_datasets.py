"""/api/datasets: built-ins, private uploads (listed, used and deleted by their token only,
quotas per client, expiry), and sessions trained on an uploaded CSV; on both stores (the
SQLite file and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from stores import run_sql

from app.settings import Settings

OpenClient = Any  # fixture from tests/conftest.py

THREE_CLASSES = (
    "sepal,petal,species\n"
    "5.1,1.4,0\n4.9,1.4,0\n7.0,4.7,1\n6.4,4.5,1\n6.3,6.0,2\n5.8,5.1,2\n5.0,1.5,0\n6.9,4.9,1\n"
)


@pytest.fixture
def settings(any_store_settings: Settings) -> Settings:
    """Every test here runs on the SQLite file, then on PostgreSQL."""
    return any_store_settings


def upload(client: TestClient, text: str | bytes, token: str | None = None, **form: str) -> Any:
    content = text.encode() if isinstance(text, str) else text
    headers = {} if token is None else bearer(token)
    return client.post(
        "/api/datasets", files={"file": ("flowers.csv", content)}, data=form, headers=headers
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_list_datasets_shows_the_builtins(client: TestClient) -> None:
    answer = client.get("/api/datasets").json()
    names = {dataset["name"] for dataset in answer["builtin"]}
    assert {"circle", "spiral", "xor", "gaussians", "iris", "lesson-000"} <= names
    assert answer["uploaded"] == []


def test_upload_stores_a_dataset_and_lists_it(client: TestClient) -> None:
    response = upload(client, THREE_CLASSES)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["name"] == "flowers" and answer["task"] == "multiclass"
    assert answer["rows"] == 8 and answer["feature_names"] == ["sepal", "petal"]
    assert answer["target"] == "species" and answer["class_names"] == ["0", "1", "2"]
    listed = client.get("/api/datasets", headers=bearer(answer["token"])).json()["uploaded"]
    assert [(item["id"], item["name"]) for item in listed] == [(answer["id"], "flowers")]


def test_a_session_trains_on_an_uploaded_dataset(client: TestClient) -> None:
    uploaded = upload(client, THREE_CLASSES, name="mine").json()
    body = {
        "model": {
            "layers": [{"units": 4, "activation": "tanh"}, {"units": 3, "activation": "softmax"}],
            "loss": "softmax_cross_entropy",
        },
        "data": {"upload": uploaded["id"], "train_ratio": 0.75},
    }
    response = client.post("/api/sessions", json=body, headers=bearer(uploaded["token"]))
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["state"]["n_train"] == 6 and created["state"]["n_test"] == 2
    headers = {"Authorization": f"Bearer {created['token']}"}
    url = f"/api/sessions/{created['id']}"
    assert client.post(
        f"{url}/step", json={"unit": "epoch", "count": 5}, headers=headers
    ).is_success
    data = client.get(f"{url}/dataset", headers=headers).json()
    assert data["name"] == "mine" and data["class_names"] == ["0", "1", "2"]
    assert len(data["y_train"][0]) == 3  # one-hot


@pytest.mark.parametrize(
    ("text", "form", "task", "class_names"),
    [
        ("a,b,y\n1,2,0\n2,3,1\n3,4,0\n4,5,1\n", {}, "binary", ["0", "1"]),
        ("a,b,y\n1,2,-1\n2,3,1\n3,4,-1\n4,5,1\n", {}, "binary", ["-1", "1"]),
        ("a,b,y\n1,2,0.5\n2,3,1.5\n3,4,2\n4,5,7\n", {}, "regression", None),
        ("y,a,b\n1,2,0\n2,3,1\n3,4,0\n4,5,1\n", {"target": "y"}, "multiclass", None),
        ("a,b,y\n1,2,1\n2,3,2\n3,4,3\n4,5,1\n", {"task": "regression"}, "regression", None),
        ("a,b,y\n1,2,1\n2,3,2\n3,4,3\n4,5,1\n", {}, "multiclass", ["1", "2", "3"]),
    ],
)
def test_upload_infers_or_takes_the_task(
    client: TestClient,
    text: str,
    form: dict[str, str],
    task: str,
    class_names: list[str] | None,
) -> None:
    response = upload(client, text, **form)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["task"] == task
    if class_names is not None:
        assert answer["class_names"] == class_names


def test_upload_accepts_a_byte_order_mark_crlf_and_blank_lines(client: TestClient) -> None:
    text = "\ufeffa,b,y\r\n1,2,0\r\n\r\n2,3,1\r\n3,4,0\r\n4,5,1\r\n\r\n"
    answer = upload(client, text).json()
    assert answer["rows"] == 4 and answer["feature_names"] == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "form", "field", "words"),
    [
        ("", {}, "file", "empty"),
        ("a,b,y\n", {}, "file", "at least 4"),
        ("a,b,y\n1,2,0\n2,3,1\n3,4,0\n", {}, "file", "at least 4"),
        ("1,2,3\n1,2,0\n2,3,1\n3,4,0\n4,5,1\n", {}, "file", "header"),
        ("y\n1\n2\n3\n4\n", {}, "file", "at least 2 columns"),
        ("a;b;y\n1;2;0\n2;3;1\n3;4;0\n4;5;1\n", {}, "file", "commas"),
        ("a,,y\n1,2,0\n2,3,1\n3,4,0\n4,5,1\n", {}, "file", "column 2"),
        ("a,a,y\n1,2,0\n2,3,1\n3,4,0\n4,5,1\n", {}, "file", "twice"),
        ("a,b,y\n1,2,0\n2,3,1\n3,x4,0\n4,5,1\n", {}, "file", "line 4, column 'b': 'x4'"),
        ("a,b,y\n1,2,0\n2,,1\n3,4,0\n4,5,1\n", {}, "file", "line 3, column 'b' is empty"),
        ("a,b,y\n1,2,0\n2,3\n3,4,0\n4,5,1\n", {}, "file", "line 3 has 2 cells"),
        ("a,b,y\n1,2,0\n2,nan,1\n3,4,0\n4,5,1\n", {}, "file", "finite"),
        ("a,b,y\n1,2,0\n2,inf,1\n3,4,0\n4,5,1\n", {}, "file", "finite"),
        ("a,b,y\n1,2,0\n2,3,1\n3,4,0\n4,5,1\n", {"target": "z"}, "target", "'a', 'b', 'y'"),
        ("a,b,y\n1,2,0\n2,3,1\n3,4,2\n4,5,1\n", {"task": "binary"}, "task", "exactly 2"),
        ("a,b,y\n1,2,0\n2,3,0\n3,4,0\n4,5,0\n", {"task": "multiclass"}, "task", "2 to"),
    ],
)
def test_upload_names_each_problem(
    client: TestClient, text: str, form: dict[str, str], field: str, words: str
) -> None:
    response = upload(client, text, **form)
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["field"] == field
    assert words in answer["detail"], answer["detail"]


def test_upload_never_echoes_a_long_cell(client: TestClient) -> None:
    long_cell = "z" * 5000
    text = f"a,b,y\n1,2,0\n2,{long_cell},1\n3,4,0\n4,5,1\n"
    detail = upload(client, text).json()["detail"]
    assert long_cell not in detail and len(detail) < 200


def test_upload_refuses_text_that_is_not_utf8(client: TestClient) -> None:
    response = upload(client, b"a,b,y\n1,2,\xff\n")
    assert response.status_code == 422 and "UTF-8" in response.json()["detail"]


def test_upload_refuses_a_nul_byte(client: TestClient) -> None:
    response = upload(client, b"a,b,y\n1,2,0\x00\n2,3,1\n3,4,0\n4,5,1\n")
    assert response.status_code == 422 and response.json()["field"] == "file"


def test_upload_refuses_a_bad_task_name(client: TestClient) -> None:
    response = upload(client, THREE_CLASSES, task="ranking")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "task"]


def test_upload_without_a_file_answers_422(client: TestClient) -> None:
    response = client.post("/api/datasets", data={"name": "nothing"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "file"]


@pytest.fixture
def small_client(open_client: OpenClient, settings: Settings) -> TestClient:
    limits = {
        "max_upload_bytes": 500,
        "max_dataset_rows": 6,
        "max_dataset_columns": 3,
        "max_datasets": 1,
    }
    client: TestClient = open_client(settings.model_copy(update=limits))
    return client


def test_upload_over_the_size_limit_answers_413(small_client: TestClient) -> None:
    response = upload(small_client, "a,b,y\n" + "1,2,0\n" * 100)
    assert response.status_code == 413 and response.json()["field"] == "file"


def test_upload_over_the_row_limit_answers_422(small_client: TestClient) -> None:
    response = upload(small_client, "a,b,y\n" + "1,2,0\n2,3,1\n" * 4)
    assert response.status_code == 422 and "more than 6 data rows" in response.json()["detail"]


def test_upload_over_the_column_limit_answers_422(small_client: TestClient) -> None:
    response = upload(small_client, "a,b,c,y\n" + "1,2,3,0\n" * 4)
    assert response.status_code == 422 and "at most 3 columns" in response.json()["detail"]


def test_upload_past_the_dataset_limit_answers_429(small_client: TestClient) -> None:
    text = "a,b,y\n1,2,0\n2,3,1\n3,4,0\n4,5,1\n"
    assert upload(small_client, text).status_code == 201
    response = upload(small_client, text)
    assert response.status_code == 429 and "maximum" in response.json()["detail"]


# ----- private uploads ------------------------------------------------------------------

BINARY = "a,b,y\n1,2,0\n2,3,1\n3,4,0\n4,5,1\n"
ON_UPLOAD = {
    "layers": [{"units": 3, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}],
    "loss": "binary_cross_entropy",
}


def create_on_upload(client: TestClient, dataset_id: str, token: str | None) -> Any:
    return client.post(
        "/api/sessions",
        json={"model": ON_UPLOAD, "data": {"upload": dataset_id}},
        headers={} if token is None else bearer(token),
    )


@pytest.fixture
def two_clients(settings: Settings) -> Any:
    """Two clients at different addresses on one app."""
    from app.main import create_app

    app = create_app(settings)
    with (
        TestClient(app, client=("10.0.0.1", 4000)) as alice,
        TestClient(app, client=("10.0.0.2", 4000)) as bob,
    ):
        yield alice, bob


def test_nobody_lists_uses_reads_or_deletes_anothers_upload(two_clients: Any) -> None:
    alice, bob = two_clients
    mine = upload(alice, BINARY, name="alice's").json()
    theirs = upload(bob, BINARY, name="bob's").json()
    assert mine["token"] != theirs["token"]

    for headers in ({}, bearer(theirs["token"]), bearer("a-guess")):
        listed = bob.get("/api/datasets", headers=headers).json()["uploaded"]
        assert mine["id"] not in {item["id"] for item in listed}
    for token in (None, theirs["token"], "a-guess"):
        refused = create_on_upload(bob, mine["id"], token)
        assert refused.status_code == 422 and refused.json()["field"] == "data.upload"
        gone = bob.delete(f"/api/datasets/{mine['id']}", headers=bearer(token or "x"))
        assert gone.status_code == 404
    assert bob.delete(f"/api/datasets/{mine['id']}").status_code == 401

    # Its owner still has it, uses it, reads its rows through the session, and deletes it.
    listed = alice.get("/api/datasets", headers=bearer(mine["token"])).json()["uploaded"]
    assert [item["id"] for item in listed] == [mine["id"]]
    created = create_on_upload(alice, mine["id"], mine["token"])
    assert created.status_code == 201, created.text
    rows = alice.get(
        f"/api/sessions/{created.json()['id']}/dataset", headers=bearer(created.json()["token"])
    ).json()
    assert rows["name"] == "alice's"
    deleted = alice.delete(f"/api/datasets/{mine['id']}", headers=bearer(mine["token"]))
    assert deleted.status_code == 204
    assert alice.get("/api/datasets", headers=bearer(mine["token"])).json()["uploaded"] == []
    assert create_on_upload(alice, mine["id"], mine["token"]).status_code == 422


def test_a_token_sent_with_an_upload_keeps_the_uploads_together(client: TestClient) -> None:
    first = upload(client, BINARY, name="one").json()
    second = upload(client, BINARY, token=first["token"], name="two").json()
    assert second["token"] == first["token"]
    listed = client.get("/api/datasets", headers=bearer(first["token"])).json()["uploaded"]
    assert [item["name"] for item in listed] == ["one", "two"]
    # A token the server never gave owns nothing: the upload gets a new one.
    third = upload(client, BINARY, token="made-up", name="three").json()
    assert third["token"] not in (first["token"], "made-up")


def test_one_clients_uploads_do_not_stop_anothers(settings: Settings) -> None:
    from app.main import create_app

    app = create_app(settings)  # the default quotas
    with (
        TestClient(app, client=("10.0.0.1", 4000)) as flood,
        TestClient(app, client=("10.0.0.2", 4000)) as other,
    ):
        answers = [upload(flood, BINARY).status_code for _ in range(200)]
        assert answers.count(201) == settings.max_uploads_per_client
        assert set(answers[settings.max_uploads_per_client :]) == {429}
        refused = upload(flood, BINARY)
        assert "delete one" in refused.json()["detail"]
        assert upload(other, BINARY).status_code == 201


def test_an_upload_no_session_uses_expires_after_the_ttl(
    settings: Settings, open_client: OpenClient
) -> None:
    settings = settings.model_copy(update={"session_ttl_seconds": 60})
    client: TestClient = open_client(settings)
    manager = client.app.state.manager  # type: ignore[attr-defined]
    idle, used = upload(client, BINARY).json(), upload(client, BINARY).json()
    session = create_on_upload(client, used["id"], used["token"]).json()
    # Both uploaded two minutes ago:
    run_sql(settings, "UPDATE datasets SET last_used = last_used - 120")
    run_sql(settings, "UPDATE sessions SET last_used = last_used - 120")
    # A session using it is stored again (it steps): that use keeps its upload.
    assert client.post(
        f"/api/sessions/{session['id']}/step",
        json={"unit": "batch"},
        headers=bearer(session["token"]),
    ).is_success
    manager.expire_idle()
    assert create_on_upload(client, idle["id"], idle["token"]).status_code == 422
    assert create_on_upload(client, used["id"], used["token"]).status_code == 201


def test_an_import_obeys_the_upload_data_limits(
    data_dir: Any, open_client: OpenClient, client: TestClient
) -> None:
    created = client.post("/api/sessions", json={"preset": "circle"}).json()
    exported = client.get(
        f"/api/sessions/{created['id']}/export", headers=bearer(created["token"])
    ).json()
    small = open_client(
        Settings(data_dir=data_dir / "small", max_upload_bytes=5000, max_dataset_columns=2)
    )
    refused = small.post("/api/sessions/import", json=exported)
    assert refused.status_code == 422 and refused.json()["field"] == "data.x_train"
    bytes_only = open_client(Settings(data_dir=data_dir / "bytes", max_upload_bytes=5000))
    refused = bytes_only.post("/api/sessions/import", json=exported)
    assert refused.status_code == 422 and refused.json()["field"] == "data"
    assert "5000" in refused.json()["detail"]
    rows_only = open_client(Settings(data_dir=data_dir / "rows", max_dataset_rows=10))
    assert rows_only.post("/api/sessions/import", json=exported).status_code == 422
    assert (
        open_client(Settings(data_dir=data_dir / "ok"))
        .post("/api/sessions/import", json=exported)
        .status_code
        == 201
    )


def test_a_store_from_before_private_uploads_opens_and_its_uploads_expire(
    data_dir: Any, open_client: OpenClient
) -> None:
    import sqlite3

    data_dir.mkdir(parents=True)
    with sqlite3.connect(data_dir / "playground.sqlite3") as db:  # the first release's table
        db.execute(
            "CREATE TABLE datasets (id TEXT PRIMARY KEY, name TEXT NOT NULL, "
            "body BLOB NOT NULL, created REAL NOT NULL)"
        )
        db.execute("INSERT INTO datasets VALUES ('old', 'anyone''s', x'7b7d', 1.0)")
    client: TestClient = open_client(Settings(data_dir=data_dir))
    fresh = upload(client, BINARY).json()
    listed = client.get("/api/datasets", headers=bearer(fresh["token"])).json()["uploaded"]
    assert [item["id"] for item in listed] == [fresh["id"]]  # the old one belongs to nobody
    assert create_on_upload(client, "old", fresh["token"]).status_code == 422
    client.app.state.manager.expire_idle()  # type: ignore[attr-defined]
    with sqlite3.connect(data_dir / "playground.sqlite3") as db:
        assert [row[0] for row in db.execute("SELECT id FROM datasets")] == [fresh["id"]]
