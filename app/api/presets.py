"""``/api/presets``: the named starting points (both lessons, TF Playground's defaults, iris)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.engine import config_as_dict, config_from_dict
from app.engine.datasets import DATASETS
from app.service.presets import PRESETS

from .schemas import PresetPublic

router = APIRouter(prefix="/presets", tags=["presets"])


def preset_public(preset_id: str, preset: dict[str, Any]) -> dict[str, Any]:
    """A preset with every model field filled in, as a session built from it will hold."""
    return {
        "id": preset_id,
        "description": preset["description"],
        "task": DATASETS[preset["data"]["dataset"]].task,
        "model": config_as_dict(config_from_dict(preset["model"])),
        "data": preset["data"],
    }


@router.get("", response_model=list[PresetPublic])
def list_presets() -> list[dict[str, Any]]:
    """List the presets; POST /api/sessions with {"preset": id} builds one."""
    return [preset_public(preset_id, preset) for preset_id, preset in PRESETS.items()]
