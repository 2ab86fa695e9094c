"""Placeholder: the page router (filled in by the page work)."""

from fastapi import APIRouter

router = APIRouter()
