import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import {
  type Attributes,
  type Context,
  createContextKey,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import {
  ATTR_DB_NAMESPACE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_TEXT,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  DB_SYSTEM_NAME_VALUE_POSTGRESQL,
} from "@opentelemetry/semantic-conventions";
import type pg from "pg";
import { codeName } from "../shared/errors.js";

/**
 * OpenTelemetry tracing: a SERVER span per RPC (W3C trace context in and
 * out) with CLIENT spans for the database queries it makes. Off, and free,
 * unless an OTLP endpoint or an exporter is given.
 *
 * Nothing is registered globally (several servers may share a process, as in
 * the tests): each Tracing has its own provider, and the RPC's span reaches
 * the database layer through this module's own async context.
 */
export interface Tracing {
  interceptor: Interceptor;
  /** Flushes pending spans and stops exporting. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  serviceName: string;
  /** OTLP/HTTP base URL, e.g. http://collector:4318; spans go to `${otlpEndpoint}/v1/traces`. */
  otlpEndpoint?: string;
  /** Receives every span as it ends (tests: an InMemorySpanExporter). */
  exporter?: SpanExporter;
}

// RPC attributes of the semantic conventions as backends know them today
// (still "incubating", so spelled here rather than imported).
const ATTR_RPC_SYSTEM = "rpc.system";
const ATTR_RPC_SERVICE = "rpc.service";
const ATTR_RPC_METHOD = "rpc.method";
const ATTR_RPC_GRPC_STATUS_CODE = "rpc.grpc.status_code";
const ATTR_RPC_CONNECT_RPC_ERROR_CODE = "rpc.connect_rpc.error_code";
/** The pre-1.26 name of db.system.name, which many backends still read. */
const ATTR_DB_SYSTEM = "db.system";

/** The tracer of the RPC in progress, next to its span in the context. */
const TRACER_KEY = createContextKey("tracker tracer");

/** Created with the first enabled Tracing; while undefined, queries are not traced at all. */
let contextManager: AsyncLocalStorageContextManager | undefined;

const propagator = new W3CTraceContextPropagator();
const headerGetter: TextMapGetter<Headers> = {
  keys: (headers) => [...headers.keys()],
  get: (headers, key) => headers.get(key) ?? undefined,
};
const headerSetter: TextMapSetter<Headers> = {
  set: (headers, key, value) => headers.set(key, value),
};

export function createTracing(options: TracingOptions): Tracing {
  const processors: SpanProcessor[] = [];
  if (options.otlpEndpoint) {
    const url = `${options.otlpEndpoint.replace(/\/+$/, "")}/v1/traces`;
    processors.push(new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }) }));
  }
  if (options.exporter) processors.push(new SimpleSpanProcessor({ exporter: options.exporter }));
  if (processors.length === 0) {
    return { interceptor: (next) => next, shutdown: async () => {} };
  }
  contextManager ??= new AsyncLocalStorageContextManager().enable();
  const provider = new TracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName })),
    spanProcessors: processors,
  });
  return {
    interceptor: createTracingInterceptor(provider.getTracer("tracker"), contextManager),
    shutdown: () => provider.shutdown(),
  };
}

function createTracingInterceptor(tracer: Tracer, contexts: AsyncLocalStorageContextManager): Interceptor {
  return (next) => async (req) => {
    const parent = propagator.extract(ROOT_CONTEXT, req.header, headerGetter);
    const system = rpcSystemOf(req.header.get("content-type") ?? "");
    const attributes: Attributes = {
      [ATTR_RPC_SYSTEM]: system,
      [ATTR_RPC_SERVICE]: req.service.typeName,
      [ATTR_RPC_METHOD]: req.method.name,
    };
    const address = serverAddressOf(req.url);
    if (address) {
      attributes[ATTR_SERVER_ADDRESS] = address.host;
      if (address.port) attributes[ATTR_SERVER_PORT] = address.port;
    }
    const span = tracer.startSpan(
      `${req.service.typeName}/${req.method.name}`,
      { kind: SpanKind.SERVER, attributes },
      parent,
    );
    const active = trace.setSpan(parent, span).setValue(TRACER_KEY, tracer);
    let ended = false;
    const end = (error?: unknown) => {
      if (ended) return;
      ended = true;
      endRpcSpan(span, system, error);
    };
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await contexts.with(active, () => next(req));
    } catch (error) {
      // Error metadata becomes response headers (or gRPC trailers).
      if (error instanceof ConnectError) propagator.inject(active, error.metadata, headerSetter);
      end(error);
      throw error;
    }
    propagator.inject(active, res.header, headerSetter);
    if (!res.stream) {
      end();
      return res;
    }
    return { ...res, message: traceStream(res.message, active, contexts, end) };
  };
}

/**
 * The response messages, produced in the RPC's context (a streaming handler
 * runs as they are pulled), ending the span when the stream ends.
 */
function traceStream<T>(
  messages: AsyncIterable<T>,
  active: Context,
  contexts: AsyncLocalStorageContextManager,
  end: (error?: unknown) => void,
): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const it = contexts.with(active, () => messages[Symbol.asyncIterator]());
      const step = async (call: () => Promise<IteratorResult<T>>) => {
        try {
          const result = await contexts.with(active, call);
          if (result.done) end();
          return result;
        } catch (error) {
          end(error);
          throw error;
        }
      };
      return {
        next: () => step(() => it.next()),
        // The consumer stopped early (the client went away): not a failure of ours.
        return: (value?: unknown) =>
          step(async () => {
            const result = (await it.return?.(value)) ?? { done: true as const, value: undefined };
            end(new ConnectError("stream abandoned by the client", Code.Canceled));
            return result;
          }),
        throw: (error?: unknown) => step(() => (it.throw ? it.throw(error) : Promise.reject(error))),
      };
    },
  };
}

function endRpcSpan(span: Span, system: string, error: unknown) {
  if (error === undefined) {
    if (system === "grpc") span.setAttribute(ATTR_RPC_GRPC_STATUS_CODE, 0);
    span.setStatus({ code: SpanStatusCode.OK });
  } else {
    // As the Connect handler answers: anything but a ConnectError is INTERNAL.
    const code = error instanceof ConnectError ? error.code : Code.Internal;
    const name = conventionCodeName(code);
    if (system === "grpc") span.setAttribute(ATTR_RPC_GRPC_STATUS_CODE, code);
    else span.setAttribute(ATTR_RPC_CONNECT_RPC_ERROR_CODE, name);
    span.setAttribute(ATTR_ERROR_TYPE, name);
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof ConnectError ? error.rawMessage : "internal error",
    });
  }
  span.end();
}

/** Connect's code names as the semantic conventions spell them ("cancelled", "not_found"). */
const conventionCodeName = (code: Code) => (code === Code.Canceled ? "cancelled" : codeName(code));

function rpcSystemOf(contentType: string): "grpc" | "connect_rpc" {
  return contentType.startsWith("application/grpc") ? "grpc" : "connect_rpc";
}

function serverAddressOf(url: string): { host: string; port?: number } | undefined {
  try {
    const parsed = new URL(url);
    const port = parsed.port ? Number(parsed.port) : undefined;
    return { host: parsed.hostname.replace(/^\[(.*)\]$/, "$1"), port };
  } catch {
    return undefined;
  }
}

/**
 * Traces the queries of the pool's clients as CLIENT spans, children of the
 * RPC being served (the SQL text only, never parameter values). Outside an
 * RPC, or with tracing off, a query costs one context lookup more.
 */
export function traceQueries(pool: pg.Pool): void {
  pool.on("connect", (client) => {
    const query = client.query;
    const traced = function tracedQuery(...args: unknown[]): unknown {
      const active = contextManager?.active();
      const tracer = active?.getValue(TRACER_KEY) as Tracer | undefined;
      const text = queryTextOf(args[0]);
      if (active === undefined || tracer === undefined || text === undefined) {
        return Reflect.apply(query, client, args);
      }
      const span = startQuerySpan(tracer, active, client, text);
      const last = args.length - 1;
      const callback = args[last];
      if (typeof callback === "function") {
        args[last] = (error: unknown, result: unknown) => {
          endQuerySpan(span, error);
          return callback(error, result);
        };
        return Reflect.apply(query, client, args);
      }
      let result: unknown;
      try {
        result = Reflect.apply(query, client, args);
      } catch (error) {
        endQuerySpan(span, error);
        throw error;
      }
      if (result instanceof Promise) {
        result.then(
          () => endQuerySpan(span),
          (error: unknown) => endQuerySpan(span, error),
        );
      } else {
        endQuerySpan(span);
      }
      return result;
    };
    client.query = traced as typeof client.query;
  });
}

/** The SQL of a query(text, ...) or query({ text }, ...) call; undefined for cursors and streams. */
function queryTextOf(first: unknown): string | undefined {
  if (typeof first === "string") return first;
  if (typeof first !== "object" || first === null || "submit" in first) return undefined;
  const text = (first as { text?: unknown }).text;
  return typeof text === "string" ? text : undefined;
}

const OPERATION = /^\s*([A-Za-z]+)/;
const OPERATIONS = new Set([
  "SELECT",
  "INSERT",
  "UPDATE",
  "DELETE",
  "BEGIN",
  "COMMIT",
  "ROLLBACK",
  "SAVEPOINT",
  "RELEASE",
  "LISTEN",
  "NOTIFY",
  "SET",
]);

function startQuerySpan(tracer: Tracer, parent: Context, client: pg.PoolClient, text: string): Span {
  const { database, host, port } = client as unknown as { database?: string; host?: string; port?: number };
  const keyword = OPERATION.exec(text)?.[1]?.toUpperCase();
  const operation = keyword && OPERATIONS.has(keyword) ? keyword : undefined;
  const attributes: Attributes = {
    [ATTR_DB_SYSTEM_NAME]: DB_SYSTEM_NAME_VALUE_POSTGRESQL,
    [ATTR_DB_SYSTEM]: DB_SYSTEM_NAME_VALUE_POSTGRESQL,
    [ATTR_DB_QUERY_TEXT]: text,
  };
  if (operation) attributes[ATTR_DB_OPERATION_NAME] = operation;
  if (database) attributes[ATTR_DB_NAMESPACE] = database;
  if (host) attributes[ATTR_SERVER_ADDRESS] = host;
  if (port) attributes[ATTR_SERVER_PORT] = port;
  const name = operation ? (database ? `${operation} ${database}` : operation) : (database ?? "postgresql");
  return tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
}

function endQuerySpan(span: Span, error?: unknown) {
  if (error !== undefined && error !== null) {
    const code = (error as { code?: unknown }).code;
    // The SQLSTATE (e.g. 23505, 57014) says what went wrong without the values involved.
    span.setAttribute(ATTR_ERROR_TYPE, typeof code === "string" ? code : "error");
    if (typeof code === "string") span.setAttribute("db.response.status_code", code);
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}
