"""Akool simulator: v4 faceswapByImage, v3 listbyids, detect_faces, encrypted + signed webhooks.

Speaks Akool's envelope: HTTP 200 with a body `code` (1000 ok, 1003 bad parameter, 1006 quota, 1007 too
many faces, 1101 invalid key, 1102 missing key). detect_faces runs the offline engine's detector;
with `return_face_url` it serves square face crops at /faces/<id>.jpg and remembers which image and
face each crop came from, so a faceswap naming crops swaps those faces of the original image.
"""

from __future__ import annotations

import io
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from swapflow.providers import crypto
from swapflow.sim.common import (
    FAILED,
    PROCESSING,
    QUEUED,
    BaseSimulator,
    EngineFailure,
    SimJob,
    face_target,
    run_engine,
)
from swapflow.sim.server import Request, Response

STATUS_CODES = {QUEUED: 1, PROCESSING: 2, "completed": 3, FAILED: 4}
MODEL_NAME = "akool_faceswap_image_hq"
MAX_FACES_PER_IMAGE = 8


@dataclass(frozen=True)
class FaceCrop:
    image_url: str
    face_index: int | None  # None: "the largest face" (single_face detection)


def _ok(data: Any) -> Response:
    return Response.json({"code": 1000, "msg": "OK", "data": data})


def _code(code: int, msg: str) -> Response:
    return Response.json({"code": code, "msg": msg, "data": None})


class AkoolSimulator(BaseSimulator):
    provider = "akool"

    def __init__(self, *, api_key: str, client_id: str, client_secret: str, **options: Any) -> None:
        super().__init__(**options)
        self.api_key = api_key
        self.client_id = client_id
        self.client_secret = client_secret
        self.crops: dict[str, FaceCrop] = {}

    FILES = {"serve_output": "/outputs/", "serve_face": "/faces/"}

    def api_routes(self) -> list[tuple[str, str, str, Any]]:
        return [
            ("POST", "/api/open/v4/faceswap/faceswapByImage", "faceswap", self.faceswap),
            ("GET", "/api/open/v3/faceswap/result/listbyids", "listbyids", self.listbyids),
            ("POST", "/interface/detect-api/detect_faces", "detect_faces", self.detect_faces),
        ]

    # --- auth -------------------------------------------------------------------------------------

    def refuse_unauthorized(self, request: Request) -> Response | None:
        authorization = request.header("authorization") or ""
        key = authorization.removeprefix("Bearer ").strip() or (request.header("x-api-key") or "").strip()
        if not key:
            return _code(1102, "authorization cannot be empty")
        if not secrets.compare_digest(key, self.api_key):
            return _code(1101, "invalid authorization")
        return None

    # --- routes -----------------------------------------------------------------------------------

    def faceswap(self, request: Request) -> Response:
        if "quota" in self.faults:
            return _code(1006, "Your quota is not enough")
        body = request.json()
        if not isinstance(body, dict):
            return _code(1003, "body must be a JSON object")
        sources, targets = body.get("sourceImage"), body.get("targetImage")
        for name, items in (("sourceImage", sources), ("targetImage", targets)):
            if not isinstance(items, list) or not 1 <= len(items) <= 50:
                return _code(1003, f"{name} must be an array of 1 to 50 items")
            for item in items:
                path = item.get("path") if isinstance(item, dict) else None
                if not isinstance(path, str) or not path.startswith(("http://", "https://")):
                    return _code(1003, f"{name}[].path must be an http(s) URL")
        assert isinstance(sources, list) and isinstance(targets, list)
        if (len(sources) > 1 or len(targets) > 1) and not all(i.get("opts") for i in sources + targets):
            return _code(1003, "opts is required for every image when more than one image is sent")
        if len(sources) != len(targets) and len(sources) != 1:
            return _code(1003, "sourceImage and targetImage must pair up")
        if body.get("model_name", MODEL_NAME) != MODEL_NAME:
            return _code(1003, "unsupported model_name")
        webhook = body.get("webhookUrl")
        if webhook is not None and not (isinstance(webhook, str) and webhook.startswith(("http://", "https://"))):
            return _code(1003, "webhookUrl must be an http(s) URL")
        per_image: dict[str, int] = {}
        for item in targets:
            origin = self.crops.get(item["path"], FaceCrop(item["path"], None)).image_url
            per_image[origin] = per_image.get(origin, 0) + 1
        if max(per_image.values()) > MAX_FACES_PER_IMAGE:
            return _code(1007, f"too many faces: at most {MAX_FACES_PER_IMAGE} per image")
        job = SimJob(id=secrets.token_hex(12), webhook_url=webhook, request=body)
        self.start_job(job)
        data: dict[str, Any] = {"_id": job.id, "job_id": time.strftime("%Y%m%d%H%M%S") + f"-{job.id[:4]}"}
        if "url_before_success" in self.faults:
            data["url"] = self.base_url + self.output_path(job)
        return _ok(data)

    def listbyids(self, request: Request) -> Response:
        ids = [i for raw in request.query.get("_ids", []) for i in raw.split(",") if i]
        if not ids:
            return _code(1003, "_ids is required")
        result = [self._view(self.jobs[i]) for i in ids if i in self.jobs]
        return _ok({"result": result})

    def detect_faces(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict) or not (body.get("url") or body.get("img")):
            return Response.json({"error_code": 1, "error_msg": "url or img is required"})
        url = body.get("url")
        try:
            image = self.fetch(url) if url else _b64(str(body["img"]))
            frame = _detect(image, bool(body.get("single_face")))
        except EngineFailure as exc:
            return Response.json({"error_code": 1, "error_msg": exc.message})
        except Exception as exc:
            return Response.json({"error_code": 1, "error_msg": f"cannot read image: {type(exc).__name__}"})
        if body.get("return_face_url") and url:
            frame["face_urls"] = [
                self._crop(image, url, region, None if body.get("single_face") else index)
                for index, region in enumerate(frame.get("crop_region") or [])
            ]
        else:
            frame["face_urls"] = None
        return Response.json({"error_code": 0, "error_msg": "SUCCESS", "faces_obj": {"0": frame}})

    # --- jobs -------------------------------------------------------------------------------------

    def _view(self, job: SimJob) -> dict[str, Any]:
        url = job.output_url
        if url is None and job.status == PROCESSING and "url_before_success" in self.faults:
            url = self.base_url + self.output_path(job)  # not there yet: answers 404 until status 3
        return {
            "_id": job.id,
            "faceswap_status": STATUS_CODES[job.status],
            "url": url or "",
            "createdAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(job.created_at)),
            "type": 1,
        }

    def process(self, job: SimJob) -> tuple[bytes, str]:
        body = job.request
        enhance = bool(body.get("face_enhance"))
        sources = [self._resolve(item) for item in body["sourceImage"]]
        targets = [self._resolve(item) for item in body["targetImage"]]
        target_url = targets[0].image_url
        target = self.fetch(target_url)
        if len(targets) == 1 and targets[0].face_index is None:
            source = self.fetch(sources[0].image_url)
            return run_engine(
                source,
                target,
                face_enhance=enhance,
                single_face_mode=bool(body.get("single_face_mode", True)),
            )
        faces = []
        for index, crop in enumerate(targets):
            if crop.image_url != target_url:
                raise EngineFailure("provider_failed", "all target faces must come from one image")
            source = self.fetch(sources[min(index, len(sources) - 1)].image_url)
            faces.append(face_target(source, crop.face_index or 0))
        return run_engine(
            faces[0].source_image, target, face_enhance=enhance, faces=tuple(faces), single_face_mode=False
        )

    def _resolve(self, item: dict[str, Any]) -> FaceCrop:
        """A faceswap image entry -> (original image, face index): crops map back, plain URLs use opts."""
        path = item["path"]
        crop = self.crops.get(path)
        if crop is not None:
            return crop
        opts = item.get("opts")
        if not opts:
            return FaceCrop(path, None)
        return FaceCrop(path, self._face_by_opts(path, str(opts)))

    def _face_by_opts(self, url: str, opts: str) -> int | None:
        points = [tuple(float(v) for v in pair.split(",")) for pair in opts.split(":") if "," in pair]
        if not points:
            return None
        cx, cy = sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)
        frame = _detect(self.fetch(url), False)
        best, best_distance = None, float("inf")
        for index, face in enumerate(frame.get("landmarks") or []):
            fx, fy = sum(p[0] for p in face) / len(face), sum(p[1] for p in face) / len(face)
            distance = (fx - cx) ** 2 + (fy - cy) ** 2
            if distance < best_distance:
                best, best_distance = index, distance
        return best

    def _crop(self, image: bytes, url: str, region: list[int], face_index: int | None) -> str:
        from PIL import Image

        x, y, w, h = region
        with Image.open(io.BytesIO(image)) as picture:
            out = io.BytesIO()
            picture.convert("RGB").crop((x, y, x + w, y + h)).save(out, "JPEG", quality=90)
        path = f"/faces/{secrets.token_hex(8)}.jpg"
        self.store_file(path, out.getvalue(), "image/jpeg")
        face_url = self.base_url + path
        self.crops[face_url] = FaceCrop(url, face_index)
        return face_url

    def webhook_delivery(self, job: SimJob) -> tuple[dict[str, str], bytes]:
        payload = {"_id": job.id, "status": STATUS_CODES[job.status], "type": 1, "url": job.output_url or ""}
        data_encrypt = crypto.akool_encrypt(json.dumps(payload).encode(), self.client_id, self.client_secret)
        timestamp = int(time.time() * 1000)
        nonce = str(secrets.randbelow(10**6))
        signature = crypto.akool_signature(self.client_id, timestamp, nonce, data_encrypt)
        body = {"signature": signature, "dataEncrypt": data_encrypt, "timestamp": timestamp, "nonce": nonce}
        return {}, json.dumps(body).encode()


def _b64(value: str) -> bytes:
    import base64

    return base64.b64decode(value.split(",", 1)[-1])


def _detect(image: bytes, single_face: bool) -> dict[str, Any]:
    """faces_obj["0"] from the engine, or -- while it is not importable -- one face in the middle."""
    try:
        from swapflow.engine import akool_detect_response

        response = akool_detect_response(image, single_face)
    except ImportError:  # FALLBACK: no engine yet; pretend one centred face
        return _fallback_frame(image)
    except Exception as exc:
        if type(exc).__name__ == "EngineError":
            raise EngineFailure(getattr(exc, "code", "image_unreadable"), str(exc)) from exc
        raise
    frame = response.get("0", response)
    return dict(frame)


def _fallback_frame(image: bytes) -> dict[str, Any]:
    from PIL import Image

    with Image.open(io.BytesIO(image)) as picture:
        w, h = picture.size
    x, y, side = w // 4, h // 4, min(w, h) // 2
    six = [
        [x + side // 3, y + side // 3],
        [x + 2 * side // 3, y + side // 3],
        [x + side // 2, y + side // 2],
        [x + side // 2, y + 3 * side // 4],
        [x + side // 3, y + 3 * side // 4],
        [x + 2 * side // 3, y + 3 * side // 4],
    ]
    as_str = ":".join(f"{px},{py}" for px, py in six[:4])
    return {
        "landmarks": [six],
        "landmarks_str": [as_str],
        "region": [[x, y, side, side]],
        "removed": [],
        "frame_time": None,
        "face_urls": [None],
        "crop_region": [[x, y, side, side]],
        "crop_landmarks": [":".join(f"{px - x},{py - y}" for px, py in six[:4])],
    }
