"""``/api/datasets``: the built-in datasets, your uploads, uploading and deleting a CSV.

An upload is private: it answers an upload token, and only that token lists it, trains a
session on it, or deletes it. Each client keeps at most ``max_uploads_per_client`` uploads,
the clients of one address ``max_uploads_per_address`` (a class behind one school address
shares that, not one client's); an upload no session has used for ``session_ttl_seconds``
expires.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Path, Response, UploadFile

from app.engine.datasets import DATASETS

from .csv_upload import MAX_NAME_LENGTH, CsvLimits, parse_csv
from .deps import OPTIONAL_UPLOAD_TOKEN, ClientDep, ManagerDep, SettingsDep, UploadTokenDep
from .errors import ApiError
from .schemas import DatasetList, DatasetUploaded, ErrorMessage

router = APIRouter(prefix="/datasets", tags=["datasets"])

# Two classes: valid whatever the task (binary, multiclass with 2 classes, regression).
EXAMPLE_CSV = "width,height,label\n1.0,0.5,0\n2.5,1.5,1\n1.2,0.4,0\n3.1,2.0,1\n0.8,0.7,0\n"
UPLOAD_EXAMPLE = {
    **OPTIONAL_UPLOAD_TOKEN,
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "example": {
                    "file": EXAMPLE_CSV,
                    "name": "my boxes",
                    "target": "label",
                    "task": "auto",
                }
            }
        }
    },
}


@router.get("", response_model=DatasetList, openapi_extra=OPTIONAL_UPLOAD_TOKEN)
def list_datasets(manager: ManagerDep, upload_token: UploadTokenDep) -> dict[str, Any]:
    """List the built-in datasets, and your uploads (those of the upload token sent)."""
    builtin = [
        {
            "name": info.name,
            "description": info.description,
            "task": info.task,
            "n_features": info.n_features,
            "default_samples": info.default_samples,
            "generated": info.generated,
            "fixed_split": info.fixed_split,
        }
        for info in DATASETS.values()
    ]
    return {"builtin": builtin, "uploaded": manager.list_uploads(upload_token)}


def upload_name(given: str | None, filename: str | None) -> str:
    """The form's name, else the file's name without its extension, else 'upload'."""
    name = (given or "").strip() or PurePath(filename or "").stem.strip() or "upload"
    return name[:MAX_NAME_LENGTH]


@router.post(
    "",
    response_model=DatasetUploaded,
    status_code=201,
    openapi_extra=UPLOAD_EXAMPLE,
    responses={
        400: {"model": ErrorMessage, "description": "The form could not be read."},
        413: {"model": ErrorMessage, "description": "The file is over max_upload_bytes."},
        422: {"model": ErrorMessage, "description": "A problem in the CSV; `detail` says where."},
        429: {
            "model": ErrorMessage,
            "description": "You (your address) or the server hold the maximum of uploads.",
        },
    },
)
def upload_dataset(
    manager: ManagerDep,
    settings: SettingsDep,
    upload_token: UploadTokenDep,
    client: ClientDep,
    file: Annotated[
        UploadFile,
        File(
            description="A UTF-8 CSV: a header row of column names, then numeric rows "
            "(features and one target column), no empty cells."
        ),
    ],
    name: Annotated[
        str, Form(max_length=MAX_NAME_LENGTH, description="Empty: the file's name.")
    ] = "",
    target: Annotated[
        str,
        Form(max_length=MAX_NAME_LENGTH, description="The target column; empty: the last."),
    ] = "",
    task: Annotated[
        Literal["auto", "binary", "multiclass", "regression"],
        Form(description="auto: inferred from the target column."),
    ] = "auto",
) -> dict[str, Any]:
    """Upload a CSV dataset (features and a target column), checked cell by cell.

    Send the upload token of your earlier uploads to keep them under one token."""
    raw = file.file.read(settings.max_upload_bytes + 1)
    if len(raw) > settings.max_upload_bytes:
        raise ApiError(
            413, f"the file is larger than the limit of {settings.max_upload_bytes} bytes", "file"
        )
    limits = CsvLimits(
        max_rows=settings.max_dataset_rows,
        max_columns=settings.max_dataset_columns,
        max_classes=settings.max_units,
    )
    dataset_name = upload_name(name, file.filename)
    parsed = parse_csv(
        raw,
        limits,
        dataset_name,
        target=target.strip() or None,
        task=None if task == "auto" else task,
    )
    dataset_id, token = manager.add_dataset(dataset_name, parsed.table, upload_token, client)
    return {
        "id": dataset_id,
        "token": token,
        "name": dataset_name,
        "task": parsed.table["task"],
        "rows": parsed.rows,
        "feature_names": parsed.table["feature_names"],
        "target": parsed.target,
        "class_names": parsed.table["class_names"],
    }


@router.delete(
    "/{id}",
    status_code=204,
    responses={
        401: {"model": ErrorMessage, "description": "No upload token."},
        404: {"model": ErrorMessage, "description": "No upload of yours with that id."},
    },
)
def delete_dataset(
    manager: ManagerDep,
    token: UploadTokenDep,
    dataset_id: Annotated[
        str, Path(alias="id", max_length=100, description="The id POST /api/datasets answered.")
    ],
) -> Response:
    """Delete one of your uploads (send its upload token); sessions made from it keep their
    own copy of the rows."""
    if token is None:
        raise ApiError(
            401,
            "deleting an upload needs its upload token: send 'Authorization: Bearer <token>'",
            field="Authorization",
            headers={"WWW-Authenticate": "Bearer"},
        )
    manager.delete_dataset(dataset_id, token)
    return Response(status_code=204)
