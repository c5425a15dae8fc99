"""The embedded LLM with continuous batching: one OpenAI-compatible server over ONE llama.cpp context.

llama-cpp-python's own server answers one request at a time. This one runs `--slots` sequences in one context
(`workers.language.batched_engine`): each decode step evaluates the next token of every request in flight
together, a request that ends frees its sequence at once for the next in the queue, and the prompt prefix that
requests share (our system text and demonstrations) sits in the KV cache once. Routes:

    POST /v1/chat/completions   non-streaming; response_format json_schema, json_object (+schema) or text
    GET  /v1/models             the one model, under --alias
    GET  /health                200 once the model is loaded, with the sequences busy and the jobs queued

    python -m workers.language.batched_llm --model M.gguf --alias NAME --port 8081 --slots 4 --threads 2 --ctx 2048
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workers.language.batched_engine import Completion, Engine, EngineError, Job
from workers.language.batched_sampling import Sampling

DISCONNECT_POLL_S = 0.5  # how often a waiting request checks that its client is still there


class RequestError(ValueError):
    """The request cannot be served as sent: answered 400 with `param` named."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """The OpenAI chat-completion fields this server acts on (others are ignored); unset samplers: llama-cpp-python
    server's defaults."""

    model_config = ConfigDict(extra="ignore")
    messages: list[Message] = Field(min_length=1)
    model: str | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=0)
    min_p: float | None = Field(None, ge=0.0, le=1.0)
    repeat_penalty: float | None = Field(None, gt=0.0)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool | None = False
    n: int | None = Field(1, ge=1, le=1)
    response_format: dict[str, Any] | None = None


@functools.lru_cache(maxsize=64)
def schema_grammar(schema_json: str) -> str:
    """GBNF for a JSON schema (llama-cpp-python's converter, the one its own server uses)."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return json_schema_to_gbnf(schema_json)


def response_grammar(response_format: dict[str, Any] | None) -> str | None:
    """The grammar a response_format asks for; RequestError (naming response_format) when it cannot be had."""
    if response_format is None:
        return None
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise RequestError("response_format json_schema needs json_schema.schema, an object", "response_format")
    elif kind == "json_object":
        schema = response_format.get("schema")
        if schema is None:
            from llama_cpp.llama_grammar import JSON_GBNF

            return JSON_GBNF
    else:
        raise RequestError(f"response_format type {kind!r} is not supported: json_schema, json_object or text",
                           "response_format")
    try:
        return schema_grammar(json.dumps(schema))
    except Exception as exc:  # the converter raises whatever its schema walk hits
        raise RequestError(f"response_format schema cannot be turned into a grammar: {exc}", "response_format"
                           ) from exc


class ChatPrompt:
    """Messages -> prompt tokens with the model's own chat template (as llama-cpp-python's server builds it)."""

    def __init__(self, engine: Engine) -> None:
        from llama_cpp import llama_chat_format

        model = engine.model
        metadata = model.metadata()
        eos, bos = model.token_eos(), model.token_bos()
        template = metadata.get("tokenizer.chat_template")
        self.engine = engine
        self.formatter: Callable[..., Any] = (
            llama_chat_format.Jinja2ChatFormatter(
                template=template, eos_token=model.token_get_text(eos) if eos != -1 else "",
                bos_token=model.token_get_text(bos) if bos != -1 else "", stop_token_ids=[eos])
            if template else llama_chat_format.format_chatml
        )

    def __call__(self, messages: list[Message]) -> tuple[list[int], list[str]]:
        plain = [{**m.model_dump(exclude_none=True), "content": _text(m.content)} for m in messages]
        try:
            result = self.formatter(messages=plain)
        except Exception as exc:  # a template's raise_exception (roles out of order, ...)
            raise RequestError(f"messages do not fit the model's chat template: {exc}", "messages") from exc
        stops = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        tokens = self.engine.model.tokenize(result.prompt.encode(), add_bos=not result.added_special, special=True)
        return tokens, [s for s in stops if s]


def _text(content: str | list[dict[str, Any]] | None) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    return "".join(str(part.get("text", "")) for part in content if part.get("type") == "text")


def prepare(engine: Engine, prompt: ChatPrompt, request: ChatRequest) -> Job:
    """A job for the engine from a checked request; RequestError for what cannot be served."""
    if request.stream:
        raise RequestError("stream=true is not supported by this server; send stream=false", "stream")
    tokens, template_stops = prompt(request.messages)
    room = engine.n_ctx - len(tokens)
    if room < 1:
        raise RequestError(f"the prompt has {len(tokens)} tokens; the context is {engine.n_ctx}", "messages")
    wanted = request.max_tokens or request.max_completion_tokens or room
    stop = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
    given: dict[str, Any] = {"temperature": request.temperature, "top_p": request.top_p, "top_k": request.top_k,
                             "min_p": request.min_p, "repeat_penalty": request.repeat_penalty}
    sampling = Sampling(grammar=response_grammar(request.response_format), seed=request.seed,
                        **{k: v for k, v in given.items() if v is not None})
    try:
        sampler = engine.sampler(sampling)
    except ValueError as exc:
        raise RequestError(f"response_format: {exc}", "response_format") from exc
    return Job(tokens, min(wanted, room), [s for s in stop + template_stops if s], sampler)


def completion_json(alias: str, done: Completion) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
        "model": alias,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": done.text}, "logprobs": None,
                     "finish_reason": done.finish_reason}],
        "usage": {"prompt_tokens": done.prompt_tokens, "completion_tokens": done.completion_tokens,
                  "total_tokens": done.prompt_tokens + done.completion_tokens,
                  "prompt_tokens_details": {"cached_tokens": done.cached_tokens}},
    }


def create_app(engine: Engine, alias: str) -> Any:
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    prompt = ChatPrompt(engine)

    def error(status: int, message: str, param: str | None = None, kind: str = "invalid_request_error"
              ) -> JSONResponse:
        return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": None}}, status)

    async def chat(request: Request) -> JSONResponse:
        try:
            body = await request.json()
            parsed = ChatRequest.model_validate(body)
            job = await run_in_threadpool(prepare, engine, prompt, parsed)
        except json.JSONDecodeError as exc:
            return error(400, f"the body is not JSON: {exc}")
        except ValidationError as exc:
            first = exc.errors()[0]
            return error(400, f"{'.'.join(map(str, first['loc']))}: {first['msg']}", str(first["loc"][0]))
        except RequestError as exc:
            return error(400, str(exc), exc.param)
        try:
            future = engine.submit(job)
        except EngineError as exc:
            return error(503, str(exc), kind="server_error")
        waiting = asyncio.wrap_future(future)
        while True:
            try:  # shielded: a timeout here must not cancel the job; a client that left does
                done = await asyncio.wait_for(asyncio.shield(waiting), DISCONNECT_POLL_S)
                break
            except TimeoutError:
                if await request.is_disconnected():
                    future.cancel()  # the scheduler frees its sequence at the next step
                    return error(499, "the client closed the request", kind="client_closed_request")
            except Exception as exc:  # llama.cpp failed this batch; the server goes on
                return error(500, f"generation failed: {exc}", kind="server_error")
        return JSONResponse(completion_json(alias, done))

    async def models(_request: Request) -> JSONResponse:
        if not engine.alive():  # the readiness and liveness probes read this route
            return error(503, "the scheduler thread has stopped", kind="server_error")
        return JSONResponse({"object": "list", "data": [{"id": alias, "object": "model", "owned_by": "me",
                                                         "created": 0}]})

    async def health(_request: Request) -> JSONResponse:
        if not engine.alive():
            return error(503, "the scheduler thread has stopped", kind="server_error")
        busy, queued = engine.busy()
        return JSONResponse({"status": "ok", "slots": len(engine.sequences), "busy": busy, "queued": queued})

    async def not_found(request: Request) -> JSONResponse:
        return error(404, f"no route {request.method} {request.url.path}", kind="not_found_error")

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        engine.stop()

    return Starlette(routes=[
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/{path:path}", not_found, methods=["GET", "POST"]),
    ], lifespan=lifespan)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a .gguf file")
    parser.add_argument("--alias", required=True, help="the model name /v1/models reports")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--slots", type=int, default=8, help="requests generated at once (sequences)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="llama.cpp threads, generation and prompt alike (default: every core)")
    parser.add_argument("--ctx", type=int, default=2048, help="context (prompt + answer) of each sequence")
    parser.add_argument("--batch", type=int, default=512, help="most tokens evaluated in one decode step")
    parser.add_argument("--lora", default="", help="a GGUF LoRA adapter applied to the model")
    args = parser.parse_args(argv)
    import uvicorn
    from llama_cpp import _logger

    _logger.set_verbose(False)
    engine = Engine(args.model, slots=args.slots, n_ctx=args.ctx, threads=args.threads, n_batch=args.batch,
                    lora=args.lora)
    uvicorn.run(create_app(engine, args.alias), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
