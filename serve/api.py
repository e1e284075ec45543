"""The OpenAI-compatible HTTP API (FastAPI): /v1/chat/completions, /v1/models, /health.

`create_app(engine, settings)` builds the app around any engine with the TransformersEngine
interface; `alm serve` runs it with uvicorn and mounts the Gradio chat beside it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import uuid
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from alm.errors import AlmError
from alm.inference import Answer, SamplingParams
from serve.content import to_conversation
from serve.engine import TransformersEngine
from serve.errors import ApiError, bad_request, not_found, too_large, unauthorized
from serve.protocol import ChatCompletionRequest, parse_request
from serve.settings import ServerSettings

logger = logging.getLogger("alm.serve")


def _error_response(err: ApiError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status, headers=err.headers)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def sampling_params(req: ChatCompletionRequest, settings: ServerSettings) -> SamplingParams:
    max_tokens = req.max_completion_tokens or req.max_tokens or settings.default_max_tokens
    if max_tokens > settings.max_tokens_limit:
        raise bad_request(f"max_tokens is {max_tokens}; this server allows at most {settings.max_tokens_limit}",
                          param="max_tokens")
    temperature = settings.default_temperature if req.temperature is None else req.temperature
    return SamplingParams(max_new_tokens=max_tokens, temperature=temperature,
                          top_p=1.0 if req.top_p is None else req.top_p, stop=list(req.stop or []), seed=req.seed)


def create_app(engine: TransformersEngine, settings: ServerSettings | None = None) -> FastAPI:
    settings = settings or ServerSettings()

    @asynccontextmanager
    async def lifespan(_app):
        await engine.start()
        yield
        await engine.stop()

    app = FastAPI(title="alm", description="OpenAI-compatible audio-language assistant", lifespan=lifespan,
                  docs_url="/docs", redoc_url=None)
    app.state.engine = engine
    app.state.settings = settings

    @app.exception_handler(ApiError)
    async def _api_error(_request, exc: ApiError):
        return _error_response(exc)

    @app.exception_handler(Exception)
    async def _internal(_request, exc: Exception):  # never a stack trace to the client
        logger.exception("internal error")
        return JSONResponse(_internal_error(exc), status_code=500)

    @app.middleware("http")
    async def _auth(request: Request, call_next):
        if settings.api_key and request.url.path.startswith("/v1/"):
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), settings.api_key.encode()):
                return _error_response(unauthorized())
        return await call_next(request)

    @app.get("/health")
    async def health():
        return {"status": "ok", "engine": engine.name, "model": settings.model_name, "trained": engine.trained,
                **engine.stats()}

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "alm"}
            for name in (settings.model_name, *settings.model_ids)]}

    @app.get("/v1/models/{model_id:path}")
    async def model(model_id: str):
        if not settings.accepts_model(model_id):
            raise not_found(f"the model {model_id!r} does not exist on this server", param="model")
        return {"id": model_id, "object": "model", "created": 0, "owned_by": "alm"}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        body = await _read_body(request, settings.max_body_bytes)
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise bad_request(f"the request body is not valid JSON: {exc}") from None
        req = parse_request(payload)
        if not settings.accepts_model(req.model):
            raise not_found(f"the model {req.model!r} does not exist on this server; "
                            f"it serves {settings.model_name!r}", param="model")
        params = sampling_params(req, settings)
        engine.admit()
        released = False
        try:
            conv = await asyncio.to_thread(to_conversation, req.messages, settings, engine.audio_token)
            engine.check(conv)
            rid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
            if req.stream:
                include_usage = bool(req.stream_options and req.stream_options.include_usage)
                released = True  # the stream releases its slot when it ends
                return StreamingResponse(_sse(engine, conv, params, rid, created, settings.model_name, include_usage),
                                         media_type="text/event-stream",
                                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
            try:
                answer = await engine.answer(conv, params)
            except AlmError as exc:
                raise bad_request(str(exc)) from None
            result = {
                "id": rid, "object": "chat.completion", "created": created, "model": settings.model_name,
                "system_fingerprint": f"alm-{engine.name}",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                             "logprobs": None, "finish_reason": answer.finish_reason}],
                "usage": {"prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens,
                          "total_tokens": answer.prompt_tokens + answer.completion_tokens},
            }
            if answer.transcripts is not None:
                result["transcripts"] = answer.transcripts  # extension: the Whisper transcript of each clip
            return result
        finally:
            if not released:
                engine.release()

    return app


def _internal_error(exc: Exception) -> dict:
    return {"error": {"message": f"internal error: {type(exc).__name__}", "type": "server_error", "param": None,
                      "code": "internal_error"}}


def _chunk(rid: str, created: int, model: str, delta: dict, finish: str | None = None) -> str:
    data = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "alm", "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                                      "finish_reason": finish}]}
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _sse(engine, conv, params: SamplingParams, rid: str, created: int, model: str, include_usage: bool):
    """Server-sent events in OpenAI's chunk format, ending with `data: [DONE]`."""
    answer: Answer | None = None
    try:
        yield _chunk(rid, created, model, {"role": "assistant", "content": ""})
        async for item in engine.stream(conv, params):
            if isinstance(item, Answer):  # the last item: counts and finish reason from the generator itself
                answer = item
            else:
                yield _chunk(rid, created, model, {"content": item})
        yield _chunk(rid, created, model, {}, answer.finish_reason)
        if include_usage:
            usage = {"prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens,
                     "total_tokens": answer.prompt_tokens + answer.completion_tokens}
            data = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [], "usage": usage}
            yield f"data: {json.dumps(data)}\n\n"
        yield "data: [DONE]\n\n"
    except AlmError as exc:
        yield f"data: {json.dumps(bad_request(str(exc)).body())}\n\n"
    except Exception as exc:  # noqa: BLE001 - headers are sent; report in-band, never a trace
        logger.exception("stream failed")
        yield f"data: {json.dumps(_internal_error(exc))}\n\n"
    finally:
        engine.release()
