"""``/api/datasets``: the built-in datasets, the uploaded ones, and uploading a CSV."""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, UploadFile

from app.engine.datasets import DATASETS

from .csv_upload import MAX_NAME_LENGTH, CsvLimits, parse_csv
from .deps import ManagerDep, SettingsDep, StoreDep
from .errors import ApiError
from .schemas import DatasetList, DatasetUploaded, ErrorMessage

router = APIRouter(prefix="/datasets", tags=["datasets"])

# Two classes: valid whatever the task (binary, multiclass with 2 classes, regression).
EXAMPLE_CSV = "width,height,label\n1.0,0.5,0\n2.5,1.5,1\n1.2,0.4,0\n3.1,2.0,1\n0.8,0.7,0\n"
UPLOAD_EXAMPLE = {
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
    }
}


@router.get("", response_model=DatasetList)
def list_datasets(store: StoreDep) -> dict[str, Any]:
    """List the built-in datasets and the uploaded ones."""
    builtin = [
        {
            "name": info.name,
            "description": info.description,
            "task": info.task,
            "n_features": info.n_features,
            "default_samples": info.default_samples,
            "generated": info.generated,
        }
        for info in DATASETS.values()
    ]
    return {"builtin": builtin, "uploaded": store.list_datasets()}


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
        429: {"model": ErrorMessage, "description": "The server holds its maximum of uploads."},
    },
)
def upload_dataset(
    manager: ManagerDep,
    settings: SettingsDep,
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
    """Upload a CSV dataset (features and a target column), checked cell by cell."""
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
    dataset_id = manager.add_dataset(dataset_name, parsed.table)
    return {
        "id": dataset_id,
        "name": dataset_name,
        "task": parsed.table["task"],
        "rows": parsed.rows,
        "feature_names": parsed.table["feature_names"],
        "target": parsed.target,
        "class_names": parsed.table["class_names"],
    }
