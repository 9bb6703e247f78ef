"""The OpenAPI 3.0 document of the engine service (kept next to the routes it describes)."""

from __future__ import annotations

from typing import Any

from engine.names import MAX_VERSION, NAME_PATTERN, NAME_RULE, VERSION_PATTERN

from .uploads import FIELD_LIMIT, FORM_BYTES, FORM_FIELDS

_ERROR = {"$ref": "#/components/responses/Error"}
_NAME = {"type": "string", "pattern": NAME_PATTERN, "description": NAME_RULE}
_VERSION = {"type": "integer", "minimum": 1, "maximum": MAX_VERSION}
_MODEL_REF = {
    "type": "string",
    "pattern": NAME_PATTERN[:-1] + "(@" + VERSION_PATTERN[1:-1] + ")?$",
    "description": f"name or name@version; a name is {NAME_RULE}",
}
_FORM_LIMITS = (
    f"At most {FORM_FIELDS} text fields of at most {FIELD_LIMIT} bytes each and "
    f"{FORM_BYTES} bytes together (413 past that); a body that stops arriving is a 408."
)
_IMAGE_FIELDS = {
    "model": _MODEL_REF,
    "k": {"type": "integer", "minimum": 2, "maximum": 32},
    "panels": {"type": "integer", "enum": [2, 3]},
    "size": {"type": "integer", "minimum": 64, "maximum": 2048},
}
_CLIP_FIELDS = {
    "budget_bytes": {"type": "integer", "minimum": 65536},
    "max_seconds": {"type": "number", "exclusiveMinimum": True, "minimum": 0},
}
_REQUEST_ID = {
    "name": "X-Request-Id",
    "in": "header",
    "required": False,
    "description": "idempotency key: a retry with the same id never runs the work twice",
    "schema": {"type": "string", "maxLength": 128},
}


def _form(file_field: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    properties = {file_field: {"type": "string", "format": "binary"}, **_IMAGE_FIELDS}
    properties.update(extra or {})
    schema = {"type": "object", "required": [file_field], "properties": properties}
    content = {"multipart/form-data": {"schema": schema}}
    return {"required": True, "description": _FORM_LIMITS, "content": content}


def _text_form(schema: dict[str, Any], required: bool) -> dict[str, Any]:
    """A form of text fields only, sent urlencoded or as multipart."""
    content = {kind: {"schema": schema} for kind in _TEXT_FORMS}
    return {"required": required, "description": _FORM_LIMITS, "content": content}


_TEXT_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): _ERROR for code in (401, *codes)}


_LABEL = {
    "description": "the label now served",
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"label": {"type": "string"}}}
        }
    },
}


_JSON = {"description": "the job", "content": {"application/json": {}}}


_LIVE = (
    "Binary messages each way: a 4-byte big-endian frame number, then an image (in: JPEG, PNG "
    "or WebP, at most the live frame limit; out: JPEG). The newest waiting frame replaces older "
    "ones. Errors are text messages {error, status, frame}. Browsers send the bearer token as "
    "the subprotocol bearer.<base64url(token)>. Close codes: 1008 bad options, 1009 frame too "
    "large, 1013 too many live sessions."
)


def _name() -> dict[str, Any]:
    return {"name": "name", "in": "path", "required": True, "schema": _NAME}


def _version() -> dict[str, Any]:
    return {"name": "version", "in": "path", "required": True, "schema": _VERSION}


def _job_id() -> dict[str, Any]:
    return {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _paths() -> dict[str, Any]:
    job = {"$ref": "#/components/schemas/ClipJob"}
    return {
        "/": {
            "get": {
                "summary": "the web page: photos, clips and the live camera",
                "security": [],
                "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}},
            }
        },
        "/healthz": {
            "get": {
                "summary": "liveness, queue depth, and how each loaded model runs (runtimes)",
                "security": [],
                "responses": {"200": {"description": "up"}},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {"description": "text format", "content": {"text/plain": {}}},
                    **_errors(),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "this document",
                "security": [],
                "responses": {"200": {"description": "OpenAPI 3"}},
            }
        },
        "/v1/models": {
            "get": {
                "summary": "installed models",
                "responses": {
                    "200": {"description": "models", "content": {"application/json": {}}},
                    **_errors(),
                },
            }
        },
        "/v1/models/{name}/{version}/sample.png": {
            "get": {
                "summary": "a model version's sample sheet",
                "parameters": [_name(), _version()],
                "responses": {
                    "200": {"description": "PNG", "content": {"image/png": {}}},
                    **_errors(400, 404),
                },
            }
        },
        "/v1/models/{name}/promote": {
            "post": {
                "summary": "serve a version (default: the newest) and make the name the default",
                "parameters": [_name()],
                "requestBody": _text_form(
                    {"type": "object", "properties": {"version": _VERSION}}, required=False
                ),
                "responses": {"200": _LABEL, **_errors(400, 404, 408, 409, 413)},
            }
        },
        "/v1/models/{name}/rollback": {
            "post": {
                "summary": "undo the last promotion",
                "parameters": [_name()],
                "responses": {"200": _LABEL, **_errors(400, 404, 409)},
            }
        },
        "/v1/models/{name}/{version}": {
            "delete": {
                "summary": "remove a user model version",
                "parameters": [_name(), _version()],
                "responses": {"204": {"description": "deleted"}, **_errors(400, 404, 409)},
            }
        },
        "/v1/datasets": {
            "get": {
                "summary": "training datasets",
                "responses": {
                    "200": {"description": "datasets", "content": {"application/json": {}}},
                    **_errors(404),
                },
            }
        },
        "/v1/datasets/{name}/images": {
            "post": {
                "summary": "add images to a dataset (decoded, deduplicated)",
                "parameters": [_name()],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["images"],
                                "properties": {
                                    "images": {
                                        "type": "array",
                                        "items": {"type": "string", "format": "binary"},
                                    }
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {"description": "report", "content": {"application/json": {}}},
                    **_errors(400, 404, 408, 413),
                },
            }
        },
        "/v1/trainings": {
            "post": {
                "summary": "train a model version on a dataset (one run at a time)",
                "parameters": [_REQUEST_ID],
                "description": "Every name is checked before anything starts; dry_run=true checks "
                "the form (names, options, the dataset) and starts nothing (200).",
                "requestBody": _text_form(
                    {
                        "type": "object",
                        "required": ["dataset", "name"],
                        "properties": {
                            "dataset": _NAME,
                            "name": _NAME,
                            "segmenter": {"type": "string", "enum": ["clusters", "edges"]},
                            "k": {"type": "integer"},
                            "time_budget": {"type": "string"},
                            "dry_run": {"type": "boolean"},
                        },
                    },
                    required=True,
                ),
                "responses": {
                    "200": {
                        "description": "dry run: the form would start a training",
                        "content": {"application/json": {}},
                    },
                    "202": _JSON,
                    **_errors(400, 404, 408, 413, 503),
                },
            }
        },
        "/v1/trainings/{job_id}": {
            "get": {
                "summary": "a training's progress and outcome",
                "parameters": [_job_id()],
                "responses": {"200": _JSON, **_errors(404)},
            }
        },
        "/v1/trainings/{job_id}/sample.png": {
            "get": {
                "summary": "the latest validation sample sheet",
                "parameters": [_job_id()],
                "responses": {
                    "200": {"description": "PNG", "content": {"image/png": {}}},
                    **_errors(404),
                },
            }
        },
        "/v1/trainings/{job_id}/stop": {
            "post": {
                "summary": "stop a training early",
                "parameters": [_job_id()],
                "responses": {"202": _JSON, **_errors(404)},
            }
        },
        "/v1/translate": {
            "post": {
                "summary": "translate any media: a still image at once, a clip as a job",
                "description": "A still image is answered with original | interpretation "
                "(200, PNG within budget_bytes; X-Quality-Reduced and X-Notes say when it was "
                "made smaller). A clip (a video container, or a GIF, WebP or PNG with more than "
                "one frame: the rule of engine.video.is_clip, by content) starts a clip job, "
                "as POST /v1/clips does (202).",
                "parameters": [_REQUEST_ID],
                "requestBody": _form("image", _CLIP_FIELDS),
                "responses": {
                    "200": {
                        "description": "original | interpretation",
                        "content": {"image/png": {}},
                    },
                    "202": {
                        "description": "a clip: job started",
                        "content": {"application/json": {"schema": job}},
                    },
                    **_errors(400, 404, 408, 409, 413, 503),
                },
            }
        },
        "/v1/compare": {
            "post": {
                "summary": "one still image through several models, in one labelled grid",
                "requestBody": _form(
                    "image",
                    {
                        "models": {"type": "string", "description": "comma-separated models"},
                        "budget_bytes": _CLIP_FIELDS["budget_bytes"],
                    },
                ),
                "responses": {
                    "200": {"description": "the grid", "content": {"image/png": {}}},
                    **_errors(400, 404, 408, 413),
                },
            }
        },
        "/v1/clips": {
            "post": {
                "summary": "start translating a clip (a video, or an animated GIF, WebP or PNG)",
                "description": "An animation is answered with a GIF (its frames, delays and "
                "loop) when that fits budget_bytes, else an MP4; a video with an MP4. A still "
                "image is a 400 that sends it to /v1/translate.",
                "parameters": [_REQUEST_ID],
                "requestBody": _form("clip", _CLIP_FIELDS),
                "responses": {
                    "202": {
                        "description": "job started",
                        "content": {"application/json": {"schema": job}},
                    },
                    **_errors(400, 404, 408, 409, 413, 503),
                },
            }
        },
        "/v1/clips/{job_id}": {
            "get": {
                "summary": "a clip job's state and progress",
                "parameters": [_job_id()],
                "responses": {
                    "200": {"description": "job", "content": {"application/json": {"schema": job}}},
                    **_errors(404),
                },
            }
        },
        "/v1/clips/{job_id}/result": {
            "get": {
                "summary": "the finished clip",
                "parameters": [_job_id()],
                "responses": {
                    "200": {
                        "description": "MP4, or GIF (format in the job)",
                        "content": {"video/mp4": {}, "image/gif": {}},
                    },
                    **_errors(404, 409),
                },
            }
        },
        "/v1/live": {
            "get": {
                "summary": "a live camera session (WebSocket, subprotocol beautynet.live)",
                "description": _LIVE,
                "parameters": [
                    {"name": name, "in": "query", "required": False, "schema": schema}
                    for name, schema in _IMAGE_FIELDS.items()
                ],
                "responses": {
                    "101": {"description": "switched to the WebSocket protocol"},
                    **_errors(426),
                },
            }
        },
    }


def openapi_document() -> dict[str, Any]:
    """The whole document."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "beautynet engine", "version": "1"},
        "security": [{"bearer": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Error": {
                    "description": "an error, with a message safe to show",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["error"],
                                "properties": {"error": {"type": "string"}},
                            }
                        }
                    },
                }
            },
            "schemas": {
                "ClipJob": {
                    "type": "object",
                    "required": ["id", "state", "done", "total"],
                    "properties": {
                        "id": {"type": "string"},
                        "state": {"type": "string", "enum": ["running", "done", "failed"]},
                        "done": {"type": "integer"},
                        "total": {"type": "integer"},
                        "error": {"type": "string", "nullable": True},
                        "format": {"type": "string", "enum": ["mp4", "gif"]},
                        "format_note": {"type": "string", "nullable": True},
                    },
                }
            },
        },
    }
