"""The OpenAI-compatible HTTP API (FastAPI): /v1/chat/completions, /v1/models, /health.

`create_app(engine, settings)` builds the app around any engine with the TransformersEngine
interface; `alm serve` runs it with uvicorn and mounts the Gradio chat beside it.

Every request is validated before work is queued: body size (413), JSON depth and numbers
(`serve.jsonbody`), the schema and unsupported parameters (`serve.protocol`), then the limits
(`alm.limits`: text, messages, clips, audio seconds, prompt tokens + max_tokens within the
context). Errors are OpenAI-shaped; `_Guard` keeps everything else off the wire: a client that
leaves (mid-body or while waiting) ends its request with one info line, and an unexpected error
is one 500 without a trace to the client.
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
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from alm.errors import AlmError
from alm.inference import Answer, SamplingParams
from serve.content import to_conversation
from serve.engine import TransformersEngine
from serve.errors import ApiError, bad_request, from_alm_error, not_found, shutting_down, too_large, unauthorized
from serve.jsonbody import parse_json
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
    async for chunk in request.stream():  # ClientDisconnect when the client leaves mid-body (see _Guard)
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def _unless_disconnected(request: Request, awaitable):
    """The result of `awaitable`, or ClientDisconnect (and `awaitable` cancelled) if the client leaves first."""
    task = asyncio.ensure_future(awaitable)

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:  # also when this request is cancelled (server shutdown): nothing left running, nothing unreported
        for pending in (watcher, task):
            _abandon(pending)
    if task.done() and not task.cancelled():
        return task.result()
    raise ClientDisconnect()


def _abandon(task: asyncio.Future) -> None:
    """Cancel a task unless done; an outcome nobody reads (e.g. 'shutting down') is consumed, not logged as lost."""
    task.cancel()
    task.add_done_callback(lambda t: t.cancelled() or t.exception())


def sampling_params(req: ChatCompletionRequest, settings: ServerSettings) -> SamplingParams:
    max_tokens = req.max_completion_tokens or req.max_tokens or settings.default_max_tokens
    if max_tokens > settings.max_tokens_limit:
        raise bad_request(f"max_tokens is {max_tokens}; this server allows at most {settings.max_tokens_limit}",
                          param="max_tokens", code="limit_exceeded")
    temperature = settings.default_temperature if req.temperature is None else req.temperature
    return SamplingParams(max_new_tokens=max_tokens, temperature=temperature,
                          top_p=1.0 if req.top_p is None else req.top_p, stop=list(req.stop or []), seed=req.seed)


class _Guard:
    """ASGI middleware around the whole app: API keys on /v1/*, and no request ends in a traceback.

    A client that disconnects ends its request quietly (one info line). Anything unexpected is logged once and
    answered with an OpenAI-shaped 500 (never with a trace, and without dropping the keep-alive connection)."""

    def __init__(self, app, api_key: str | None):
        self.app, self.api_key = app, api_key

    def _authorized(self, scope) -> bool:
        header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self.api_key.encode())

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if self.api_key and scope["path"].startswith("/v1/") and not self._authorized(scope):
            return await _error_response(unauthorized())(scope, receive, send)
        state = {"started": False, "finished": False, "stream": False}

        async def tracking_send(message):
            if message["type"] == "http.response.start":
                state["started"] = True
                state["stream"] = any(k == b"content-type" and v.startswith(b"text/event-stream")
                                      for k, v in message.get("headers", []))
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                state["finished"] = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            logger.info("%s %s: the client disconnected; request dropped", scope["method"], scope["path"])
        except asyncio.CancelledError:  # the server is shutting down and its grace period is over
            if not state["started"]:
                logger.info("%s %s: cancelled (the server is shutting down)", scope["method"], scope["path"])
                await _error_response(shutting_down())(scope, receive, send)
            elif state["stream"] and not state["finished"]:
                await send({"type": "http.response.body", "body": _SSE_SHUTDOWN, "more_body": False})
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            logger.exception("internal error on %s %s", scope["method"], scope["path"])
            if not state["started"]:
                await JSONResponse(_internal_error(exc), status_code=500)(scope, receive, send)


def create_app(engine: TransformersEngine, settings: ServerSettings | None = None) -> FastAPI:
    settings = settings or ServerSettings()
    engine.limits = settings.limits  # one set of limits: the server's

    @asynccontextmanager
    async def lifespan(_app):
        await engine.start()
        yield
        await engine.stop()

    app = FastAPI(title="alm", description="OpenAI-compatible audio-language assistant", lifespan=lifespan,
                  docs_url="/docs", redoc_url=None)
    app.state.engine = engine
    app.state.settings = settings
    app.add_middleware(_Guard, api_key=settings.api_key)

    @app.exception_handler(ApiError)
    async def _api_error(_request, exc: ApiError):
        return _error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request, exc: StarletteHTTPException):  # unknown routes and methods, OpenAI-shaped
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return _error_response(ApiError(exc.status_code, str(exc.detail), code=code, headers=exc.headers))

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
            raise not_found(f"the model {model_id[:200]!r} does not exist on this server", param="model")
        return {"id": model_id, "object": "model", "created": 0, "owned_by": "alm"}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        body = await _read_body(request, settings.max_body_bytes)
        req = parse_request(parse_json(body))
        if not settings.accepts_model(req.model):
            raise not_found(f"the model {req.model[:200]!r} does not exist on this server; "
                            f"it serves {settings.model_name!r}", param="model")
        params = sampling_params(req, settings)
        engine.admit()
        released = False
        try:
            conv = await asyncio.to_thread(to_conversation, req.messages, settings, engine.audio_token,
                                           engine.max_audio_seconds)
            await asyncio.to_thread(engine.check, conv, params)
            rid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
            if req.stream:
                include_usage = bool(req.stream_options and req.stream_options.include_usage)
                released = True  # the stream releases its slot when it ends
                return StreamingResponse(_sse(engine, conv, params, rid, created, settings.model_name, include_usage),
                                         media_type="text/event-stream",
                                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
            try:
                answer = await _unless_disconnected(request, engine.answer(conv, params))
            except AlmError as exc:
                raise from_alm_error(exc) from None
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


_SSE_SHUTDOWN = f"data: {json.dumps(shutting_down().body())}\n\ndata: [DONE]\n\n".encode()


def _internal_error(exc: Exception) -> dict:
    return {"error": {"message": f"internal error: {type(exc).__name__}", "type": "server_error", "param": None,
                      "code": "internal_error"}}


def _chunk(rid: str, created: int, model: str, delta: dict, finish: str | None = None) -> str:
    data = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "alm", "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                                      "finish_reason": finish}]}
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _sse(engine, conv, params: SamplingParams, rid: str, created: int, model: str, include_usage: bool):
    """Server-sent events in OpenAI's chunk format, ending with `data: [DONE]` (after an error event too)."""
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
    except ApiError as exc:
        yield f"data: {json.dumps(exc.body())}\n\n"
    except AlmError as exc:
        yield f"data: {json.dumps(from_alm_error(exc).body())}\n\n"
    except asyncio.CancelledError:  # the client left, or the server is shutting down (see _Guard)
        logger.info("POST /v1/chat/completions: a stream ended early (the client left or the server is shutting "
                    "down); generation stopped")
        raise
    except Exception as exc:  # noqa: BLE001 - headers are sent; report in-band, never a trace
        logger.exception("stream failed")
        yield f"data: {json.dumps(_internal_error(exc))}\n\n"
    finally:
        engine.release()
    yield "data: [DONE]\n\n"
