"""Akool's API shape: Face Swap Pro v4 submit, v3 `listbyids`, and `detect_faces` (DESIGN 4, the seed).

- Envelope: HTTP 200 `{code: 1000, msg: "OK", data}`; errors are HTTP 200 too, with `code` 1003 (bad
  parameter), 1005 (too frequent: over the tenant's request budget), 1101 (invalid key) or 1102 (no key).
- `faceswapByImage`: sourceImage/targetImage arrays of {path, opts} (1..50). One pair without opts is
  a plain swap. Otherwise every item needs `opts` (Akool's rule) and the targets must be faces of one
  image: each target's opts picks a face of that image (the `crop_landmarks` or `landmarks_str`
  string our detect_faces returned for it, or else the face whose landmark centre is nearest), and
  sourceImage[i] goes onto that face.
- `listbyids`: faceswap_status 1 queued, 2 processing, 3 success, 4 failed (cancelled jobs too); `url`
  only once the status is 3. Ids the caller does not own are simply absent, as unknown ids are.
- `detect_faces` answers Akool's detection shape `{error_code: 0, error_msg, faces_obj}` (plus code/msg).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..jobs.exceptions import RequestInvalidError

OK = 1000
BAD_PARAMETER = 1003
TOO_FREQUENT = 1005  # Akool's rate-limit answer (HTTP 200): the per-tenant request budget
INVALID_KEY = 1101
MISSING_KEY = 1102
MODEL_NAME = "akool_faceswap_image_hq"
MAX_ITEMS = 50
FACESWAP_STATUS = {"queued": 1, "processing": 2, "completed": 3, "failed": 4, "cancelled": 4}


def ok(data: Any) -> dict[str, Any]:
    return {"code": OK, "msg": "OK", "data": data}


def error(code: int, msg: str) -> dict[str, Any]:
    return {"code": code, "msg": msg, "data": None}


@dataclass(frozen=True)
class Item:
    path: str
    opts: str | None


@dataclass(frozen=True)
class FaceswapRequest:
    sources: tuple[Item, ...]
    targets: tuple[Item, ...]
    face_enhance: bool
    single_face_mode: bool
    webhook_url: str | None

    @property
    def needs_faces(self) -> bool:
        """True when target faces must be located (opts given, or several pairs)."""
        return len(self.sources) > 1 or len(self.targets) > 1 or any(i.opts for i in self.targets)


def _items(body: Mapping[str, Any], name: str) -> tuple[Item, ...]:
    raw = body.get(name)
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_ITEMS:
        raise RequestInvalidError("invalid_request", f"{name} must be an array of 1 to {MAX_ITEMS} {{path, opts}}")
    items = []
    for i, entry in enumerate(raw):
        path = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(path, str) or not path.strip():
            raise RequestInvalidError("invalid_request", f"{name}[{i}].path must be an image URL")
        opts = entry.get("opts")
        if opts is not None and not isinstance(opts, str):
            raise RequestInvalidError("invalid_request", f"{name}[{i}].opts must be a landmarks string")
        items.append(Item(path.strip(), opts or None))
    return tuple(items)


def _flag(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise RequestInvalidError("invalid_request", f"{name} must be true or false")
    return value


def parse_faceswap(body: Any) -> FaceswapRequest:
    if not isinstance(body, dict):
        raise RequestInvalidError("invalid_request", "the request body must be a JSON object")
    model = body.get("model_name", MODEL_NAME)
    if model != MODEL_NAME:
        raise RequestInvalidError("invalid_request", f"model_name must be {MODEL_NAME}")
    sources, targets = _items(body, "sourceImage"), _items(body, "targetImage")
    if (len(sources) > 1 or len(targets) > 1) and not all(i.opts for i in (*sources, *targets)):
        raise RequestInvalidError("invalid_request", "opts is required on every item when either array has >1 item")
    if len(targets) > 1 and len(sources) != len(targets):
        raise RequestInvalidError("invalid_request", "sourceImage and targetImage must pair up (same length)")
    if len({t.path for t in targets}) > 1:
        raise RequestInvalidError("invalid_request", "every targetImage must be a face of the same image (path)")
    webhook = body.get("webhookUrl")
    if webhook is not None and not isinstance(webhook, str):
        raise RequestInvalidError("invalid_request", "webhookUrl must be a URL")
    return FaceswapRequest(
        sources=sources,
        targets=targets,
        face_enhance=_flag(body, "face_enhance"),
        single_face_mode=_flag(body, "single_face_mode"),
        webhook_url=webhook or None,
    )


def landmark_points(value: Any) -> list[tuple[float, float]]:
    """Landmarks as points, from "x,y:x,y" strings (Akool's `opts`, `landmarks_str`) or [[x, y], ...] lists."""
    if isinstance(value, str):
        out = []
        for pair in value.split(":"):
            x, _, y = pair.partition(",")
            try:
                out.append((float(x), float(y)))
            except ValueError:
                continue
        return out
    if isinstance(value, list):
        return [(float(p[0]), float(p[1])) for p in value if isinstance(p, list | tuple) and len(p) >= 2]
    return []


def _centre(points: list[Any]) -> tuple[float, float]:
    return sum(float(p[0]) for p in points) / len(points), sum(float(p[1]) for p in points) / len(points)


def face_for_opts(opts: str, frame: Mapping[str, Any]) -> int | None:
    """The index (left to right) of the detected face `opts` names in a detect_faces frame."""
    for name in ("crop_landmarks", "landmarks_str"):
        values = frame.get(name) or []
        if opts in values:
            return list(values).index(opts)
    points = landmark_points(opts)
    landmarks = [face for face in frame.get("landmarks") or [] if face]
    if not points or not landmarks:
        return None
    cx, cy = _centre(points)
    distances = [(x - cx) ** 2 + (y - cy) ** 2 for x, y in (_centre(face) for face in landmarks)]
    return distances.index(min(distances))


def job_body(request: FaceswapRequest, *, provider: str, frame: Mapping[str, Any] | None) -> dict[str, Any]:
    """A native `POST /v1/jobs` body; `frame` is detect_faces' frame of the target image when needed."""
    native: dict[str, Any] = {
        "provider": provider,
        "source_image": request.sources[0].path,
        "target_image": request.targets[0].path,
        "face_enhance": request.face_enhance,
        "metadata": {"compat": "akool", "model": MODEL_NAME},
    }
    if request.webhook_url:
        native["webhook_url"] = request.webhook_url
    if not request.needs_faces:
        native["single_face_mode"] = True
        return native
    faces = []
    for i, target in enumerate(request.targets):
        index = face_for_opts(target.opts or "", frame or {})
        if index is None:
            raise RequestInvalidError("invalid_request", f"targetImage[{i}].opts does not match a face of the image")
        faces.append({"source_image": request.sources[min(i, len(request.sources) - 1)].path, "target_face": index})
    native["faces"] = faces
    native["single_face_mode"] = False
    return native


def submitted(job_id: str) -> dict[str, Any]:
    return ok({"_id": job_id, "job_id": job_id, "url": ""})


def result_item(view: Mapping[str, Any]) -> dict[str, Any]:
    status = FACESWAP_STATUS.get(str(view.get("status")), 2)
    outputs = view.get("outputs") or []
    url = outputs[0].get("url", "") if status == 3 and outputs else ""
    item: dict[str, Any] = {
        "_id": view["id"],
        "faceswap_status": status,
        "url": url,
        "type": 1,
        "createdAt": view.get("created_at"),
    }
    if view.get("error"):
        item["error"] = {"code": view["error"]["code"], "msg": view["error"]["message"]}
    return item


def parse_ids(raw: str | None) -> list[str]:
    ids = [part.strip() for part in (raw or "").split(",") if part.strip()]
    if not ids:
        raise RequestInvalidError("invalid_request", "_ids is required: job ids separated by commas")
    if len(ids) > 100:
        raise RequestInvalidError("invalid_request", "at most 100 _ids per request")
    return ids


def detect_ref(body: Any) -> tuple[str, bool]:
    """(image ref, single_face) of a detect_faces body: `url`, or `img` as base64 or a data: URI."""
    if not isinstance(body, dict):
        raise RequestInvalidError("invalid_request", "the request body must be a JSON object")
    url, img = body.get("url"), body.get("img")
    if isinstance(url, str) and url.strip():
        ref = url.strip()
    elif isinstance(img, str) and img.strip():
        ref = img.strip() if img.startswith("data:") else f"data:image/jpeg;base64,{img.strip()}"
    else:
        raise RequestInvalidError("invalid_request", "url or img is required")
    single = body.get("single_face", False)
    return ref, bool(single)


def detected(faces_obj: Mapping[str, Any]) -> dict[str, Any]:
    return {"code": OK, "msg": "OK", "error_code": 0, "error_msg": "SUCCESS", "faces_obj": dict(faces_obj)}
