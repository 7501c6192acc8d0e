"""The asset folder's manifest: what a built embedding model is and where its files are."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_FORMATS = ("onnx", "static")


class EmbedderAssetError(RuntimeError):
    """The asset folder is missing, incomplete or does not match its manifest."""


@dataclass(frozen=True, slots=True)
class Manifest:
    """What `manifest.json` says about a built model."""

    name: str
    format: str
    dim: int
    max_length: int
    model_file: str
    model_sha256: str
    tokenizer_file: str
    add_special_tokens: bool
    pad_id: int
    unk_id: int | None

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / "manifest.json"
        try:
            raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise EmbedderAssetError(f"no embedder manifest at {path}") from exc
        except (OSError, ValueError) as exc:
            raise EmbedderAssetError(f"unreadable embedder manifest {path}: {exc}") from exc
        try:
            manifest = cls(
                name=str(raw["name"]),
                format=str(raw["format"]),
                dim=int(raw["dim"]),
                max_length=int(raw["max_length"]),
                model_file=str(raw["model_file"]),
                model_sha256=str(raw["model_sha256"]).lower(),
                tokenizer_file=str(raw.get("tokenizer_file", "tokenizer.json")),
                add_special_tokens=bool(raw.get("add_special_tokens", True)),
                pad_id=int(raw.get("pad_id", 0)),
                unk_id=None if raw.get("unk_id") is None else int(raw["unk_id"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbedderAssetError(f"invalid embedder manifest {path}: {exc!r}") from exc
        if manifest.format not in _FORMATS:
            raise EmbedderAssetError(f"unknown embedder format {manifest.format!r} in {path}")
        if manifest.dim < 1 or manifest.max_length < 1:
            raise EmbedderAssetError(f"invalid dim/max_length in {path}")
        for name in (manifest.model_file, manifest.tokenizer_file):
            if not (folder / name).is_file():
                raise EmbedderAssetError(f"{folder / name} is missing (see manifest {path})")
        return manifest
