"""C2PA Content Credentials (c2pa-python): a signed manifest embedded in each output.

The manifest says what was done: `c2pa.opened` the target photo (parent ingredient), `c2pa.placed`
the source face (component ingredient), `c2pa.edited` with the IPTC digital source type, swapflow and
its version as claim generator and software agent, the job id and provider as action parameters and
in an `org.swapflow.job` assertion. Ingredients are named by their SHA-256 only: no thumbnail and no
copy of anyone's face travels inside the output. The claim's hard binding (c2pa.hash.data) covers the
exact bytes written, so changing one byte of the file makes the credential invalid.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from .keys import SigningKey

__all__ = ["Verification", "manifest_definition", "sign", "verify"]


@dataclass(frozen=True)
class Ingredient:
    title: str
    content_type: str
    sha256: str
    relationship: str  # "parentOf" (the target photo) | "componentOf" (the face put into it)
    label: str


def manifest_definition(
    *,
    title: str,
    content_type: str,
    digital_source_type: str,
    version: str,
    job_id: str,
    provider: str,
    ingredients: list[Ingredient],
) -> dict[str, Any]:
    agent = {"name": "swapflow", "version": version}
    parent = [i.label for i in ingredients if i.relationship == "parentOf"]
    components = [i.label for i in ingredients if i.relationship == "componentOf"]
    job = {"job_id": job_id, "provider": provider}
    actions: list[dict[str, Any]] = []
    # C2PA: the first action is c2pa.created or c2pa.opened; a swap opens the target photo.
    if parent:
        actions.append({"action": "c2pa.opened", "parameters": {"ingredientIds": parent}})
    else:
        actions.append({"action": "c2pa.created", "digitalSourceType": digital_source_type, "softwareAgent": agent})
    if components:
        actions.append({"action": "c2pa.placed", "parameters": {"ingredientIds": components}})
    actions.append(
        {
            "action": "c2pa.edited",
            "digitalSourceType": digital_source_type,
            "softwareAgent": agent,
            "description": "face swap",
            "parameters": job,
        }
    )
    return {
        "claim_generator_info": [agent],
        "title": title,
        "format": content_type,
        "ingredients": [
            {
                "title": i.title,
                "format": i.content_type,
                "relationship": i.relationship,
                "instance_id": f"sha256:{i.sha256}",
                "label": i.label,
            }
            for i in ingredients
        ],
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": actions}},
            {"label": "org.swapflow.job", "data": job},
        ],
    }


def sign(data: bytes, content_type: str, manifest: dict[str, Any], key: SigningKey) -> bytes:
    """`data` with the signed manifest embedded (no timestamp authority: nothing outside is reached)."""
    import c2pa

    context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, key.certificate_chain, key.private_key, None)
    )
    out = io.BytesIO()
    with c2pa.Builder.from_json(manifest, context) as builder:
        builder.sign(signer, content_type, io.BytesIO(data), out)
    signer.close()
    return out.getvalue()


@dataclass(frozen=True)
class Verification:
    """What a C2PA reader says about a file: state `Trusted`, `Valid`, `Invalid` or `Missing`."""

    state: str
    manifest: dict[str, Any] | None
    failures: list[dict[str, Any]]

    @property
    def intact(self) -> bool:
        """The signature and the hash binding hold (whether or not the signer is on the trust list)."""
        return self.state in ("Valid", "Trusted") or (
            self.state == "Invalid" and all(f.get("code") == "signingCredential.untrusted" for f in self.failures)
        )


def verify(data: bytes, content_type: str, trust_anchors: bytes | None = None) -> Verification:
    import c2pa

    settings: dict[str, Any] = {"verify": {"verify_trust": trust_anchors is not None}}
    if trust_anchors:
        settings["trust"] = {"trust_anchors": trust_anchors.decode()}
    try:
        with c2pa.Reader(content_type, io.BytesIO(data), context=c2pa.Context.from_dict(settings)) as reader:
            results = reader.get_validation_results() or {}
            failures = list((results.get("activeManifest") or {}).get("failure") or [])
            state = reader.get_validation_state() or "Invalid"
            try:
                manifest = reader.get_active_manifest()
            except KeyError:  # a store too damaged to name its active manifest
                return Verification("Invalid", None, failures or [{"code": "manifest.unreadable"}])
            return Verification(state, manifest, failures)
    except c2pa.C2paError as exc:
        missing = "ManifestNotFound" in type(exc).__name__ or "not found" in str(exc).lower()
        return Verification(
            "Missing" if missing else "Invalid", None, [{"code": "unreadable", "explanation": str(exc)}]
        )


def summary(result: Verification) -> dict[str, Any]:
    """The facts a person checks: state, source type, generator, job and provider (for `swapflow verify`)."""
    manifest = result.manifest or {}
    actions: list[dict[str, Any]] = next(
        (a["data"]["actions"] for a in manifest.get("assertions", []) if a.get("label", "").startswith("c2pa.actions")),
        [],
    )
    job: dict[str, Any] = next(
        (a["data"] for a in manifest.get("assertions", []) if a.get("label") == "org.swapflow.job"), {}
    )
    return {
        "state": result.state,
        "intact": result.intact,
        "digital_source_type": next((a.get("digitalSourceType") for a in actions if a.get("digitalSourceType")), None),
        "actions": [a.get("action") for a in actions],
        "claim_generator": manifest.get("claim_generator_info"),
        "signer": (manifest.get("signature_info") or {}).get("common_name"),
        "ingredients": [
            {k: i.get(k) for k in ("title", "relationship", "instance_id")} for i in manifest.get("ingredients", [])
        ],
        **job,
        "failures": [f.get("code") for f in result.failures],
    }


def dumps(result: Verification) -> str:
    return json.dumps(summary(result), indent=2)
