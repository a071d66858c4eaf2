"""Judging a batch body before anything is stored: every job request as `POST /v1/jobs` judges it.

Fields and provider through the job intake; each distinct image value once (stored objects by a HEAD
inside the caller's prefixes, URLs and data: URIs fetched and decoded); every problem as {path, message}.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..providers.exceptions import ProviderUnavailableError
from .exceptions import BatchInvalidError, RequestInvalidError
from .manifests import ManifestLocation

if TYPE_CHECKING:
    from .inputs import InputLoader
    from .intake import JobIntake

IMAGE_FIELDS = ("source_image", "target_image")
MAX_ERRORS = 100
CHECK_WORKERS = 8  # image values of a batch judged at once (fetches of distinct URLs)


def judge_batch(
    body: Any,
    intake: JobIntake,
    *,
    max_jobs: int,
    manifest: ManifestLocation | None = None,
    tenant: str | None = None,
) -> list[dict[str, Any]]:
    """Every job request of a batch body, defaults merged (and manifest refs resolved); all or nothing:
    image values are judged as `POST /v1/jobs` judges them (see `_image_errors`)."""
    if not isinstance(body, dict):
        raise BatchInvalidError([{"path": "", "message": "a batch is a JSON object {jobs: [...], defaults?}"}])
    errors = [{"path": name, "message": "unknown field"} for name in sorted(set(body) - {"jobs", "defaults"})]
    jobs, defaults = body.get("jobs"), body.get("defaults", {})
    limit = max_jobs
    if not isinstance(jobs, list) or not 1 <= len(jobs) <= limit:
        errors.append({"path": "jobs", "message": f"jobs must be a list of 1 to {limit} job requests"})
    if not isinstance(defaults, dict):
        errors.append({"path": "defaults", "message": "defaults must be a JSON object of job request fields"})
    if errors or not isinstance(jobs, list):
        raise BatchInvalidError(errors)
    requests: list[dict[str, Any]] = []
    indexes: list[int] = []
    first_use: dict[str, int] = {}
    for i, item in enumerate(jobs):
        path = f"jobs[{i}]"
        if not isinstance(item, dict):
            errors.append({"path": path, "message": "each job is a JSON object with the fields of POST /v1/jobs"})
            continue
        merged = {**defaults, **item}
        merged.pop("wait", None)  # batch jobs never answer synchronously
        try:
            if manifest is not None:
                merged = _resolve_images(merged, manifest)
            request = intake.parse(merged)
        except RequestInvalidError as exc:
            errors.append({"path": f"{path}.{exc.field}" if exc.field else path, "message": exc.message})
            continue
        first_use.setdefault(request.provider, i)
        requests.append(merged)
        indexes.append(i)
    errors.extend(_image_errors(intake.inputs, requests, indexes, tenant, scopes(manifest)))
    errors.sort(key=_job_index)  # stable: each job's problems together, in the order found
    for provider, i in first_use.items():
        try:
            intake.available_providers(provider)
        except ProviderUnavailableError as exc:
            errors.append({"path": f"jobs[{i}].provider", "message": str(exc)})
    if errors:
        raise BatchInvalidError(errors[:MAX_ERRORS])
    return requests


def _image_errors(
    inputs: InputLoader, requests: list[dict[str, Any]], indexes: list[int], tenant: str | None, scopes: tuple[str, ...]
) -> list[dict[str, str]]:
    """Each distinct image value judged once, as POST /v1/jobs judges it: stored objects (uploads,
    s3:// refs) by a HEAD inside the caller's prefixes, data: URIs and URLs fetched and decoded
    (CHECK_WORKERS at a time). Nothing is stored: the job reads its inputs again when its turn comes."""

    def judge(ref: str) -> str | None:
        try:
            key = inputs.stored_key(ref, "image", tenant, scopes)
            if key is not None:
                inputs.stored_size(key, "image")
            else:
                inputs.check(inputs.load(ref, "image", tenant, scopes), "image")
        except RequestInvalidError as exc:
            return exc.message.removeprefix("image: ")
        return None

    refs = [
        (f"jobs[{i}].{field}", ref) for i, r in zip(indexes, requests, strict=True) for field, ref in _image_refs(r)
    ]
    distinct = list(dict.fromkeys(ref for _, ref in refs))
    with ThreadPoolExecutor(CHECK_WORKERS) as pool:
        verdicts = dict(zip(distinct, pool.map(judge, distinct), strict=True))
    return [{"path": path, "message": message} for path, ref in refs if (message := verdicts[ref])]


def scopes(manifest: ManifestLocation | dict[str, Any] | None) -> tuple[str, ...]:
    """Where a batch's jobs may read stored images besides the tenant's uploads: a manifest's folder."""
    if manifest is None:
        return ()
    location = manifest if isinstance(manifest, ManifestLocation) else ManifestLocation.from_dict(manifest)
    return (location.folder,)


def _job_index(error: dict[str, str]) -> int:
    """The job an error {path: "jobs[3]...."} is about; -1 for the batch itself."""
    path = error["path"]
    return int(path[5 : path.index("]")]) if path.startswith("jobs[") and "]" in path else -1


def _image_refs(request: dict[str, Any]) -> list[tuple[str, str]]:
    refs = [(name, request[name]) for name in IMAGE_FIELDS if isinstance(request.get(name), str)]
    faces = request.get("faces")
    if isinstance(faces, list):
        for i, face in enumerate(faces):
            if isinstance(face, dict) and isinstance(face.get("source_image"), str):
                refs.append((f"faces[{i}].source_image", face["source_image"]))
    return refs


def _resolve_images(request: dict[str, Any], location: ManifestLocation) -> dict[str, Any]:
    resolved = dict(request)
    for name in IMAGE_FIELDS:
        if isinstance(resolved.get(name), str) and resolved[name].strip():
            resolved[name] = location.resolve(resolved[name].strip(), name)
    faces = resolved.get("faces")
    if isinstance(faces, list):
        resolved["faces"] = [
            {**face, "source_image": location.resolve(face["source_image"].strip(), f"faces[{i}].source_image")}
            if isinstance(face, dict) and isinstance(face.get("source_image"), str) and face["source_image"].strip()
            else face
            for i, face in enumerate(faces)
        ]
    return resolved
