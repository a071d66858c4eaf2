"""The simulators' swap: the offline engine when it is importable, else the target image unchanged."""

from __future__ import annotations

from typing import Any


class EngineFailure(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def run_engine(source: bytes, target: bytes, **options: Any) -> tuple[bytes, str]:
    """swapflow.engine.swap, or -- while the engine is not importable -- the target image unchanged."""
    try:
        from swapflow import engine

        out = engine.swap(source, target, engine.SwapOptions(**options))
    except ImportError:  # FALLBACK: no engine yet; echo the target so the plumbing can still be tested
        return target, sniff_type(target)
    except Exception as exc:
        if type(exc).__name__ == "EngineError":
            raise EngineFailure(getattr(exc, "code", "internal"), getattr(exc, "message", str(exc))) from exc
        raise
    return out.data, out.content_type


def face_target(source: bytes, target_face: int) -> Any:
    from swapflow.faces import Face

    return Face(source_image=source, target_face=target_face)


def sniff_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/jpeg"
