"""Placeholder: the websocket router (filled in by the live-streaming work)."""

from fastapi import APIRouter

router = APIRouter()
