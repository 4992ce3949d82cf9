import http from "node:http";
import type { AddressInfo } from "node:net";

/** A request as a test server saw it. */
export interface SeenRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface TestServer {
  url: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1 that records every request and answers with `respond`. */
export async function startServer(
  respond: (req: SeenRequest) => { status: number; headers?: Record<string, string>; body?: string | Buffer },
): Promise<TestServer> {
  const requests: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const seen = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      requests.push(seen);
      const r = respond(seen);
      res.writeHead(r.status, r.headers ?? {});
      res.end(r.body ?? "");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---- OTLP/HTTP receiver --------------------------------------------------------------------------

export type AttrValue = string | number | boolean;

/** A span as received over OTLP, ids in hex. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, AttrValue>;
  links: { traceId: string; spanId: string; attributes: Record<string, AttrValue> }[];
  status: { code: number; message?: string };
  serviceName: string;
  encoding: "json" | "protobuf";
}

export interface OtlpReceiver {
  /** The traces endpoint (`.../v1/traces`). */
  url: string;
  spans: ReceivedSpan[];
  close(): Promise<void>;
}

/**
 * An OTLP/HTTP trace receiver speaking the real protocol: POST /v1/traces with
 * `application/json` (OTLP JSON) or `application/x-protobuf` (decoded by the small decoder below).
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const server = await startServer((req) => {
    if (req.method !== "POST" || req.path !== "/v1/traces") return { status: 404 };
    const type = String(req.headers["content-type"] ?? "");
    if (type.startsWith("application/json")) {
      spans.push(...fromJson(JSON.parse(req.body.toString("utf8"))));
      return { status: 200, headers: { "content-type": "application/json" }, body: "{}" };
    }
    if (type.startsWith("application/x-protobuf")) {
      spans.push(...fromProtobuf(req.body));
      return { status: 200, headers: { "content-type": "application/x-protobuf" }, body: Buffer.alloc(0) };
    }
    return { status: 415 };
  });
  return { url: `${server.url}/v1/traces`, spans, close: server.close };
}

function jsonValue(v: any): AttrValue {
  if ("stringValue" in v) return v.stringValue;
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return v.doubleValue;
  if ("boolValue" in v) return v.boolValue;
  return JSON.stringify(v);
}

function jsonAttrs(list: any[] | undefined): Record<string, AttrValue> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, jsonValue(kv.value)]));
}

function fromJson(body: any): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const serviceName = String(jsonAttrs(rs.resource?.attributes)["service.name"] ?? "");
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? "",
          name: s.name,
          kind: s.kind,
          attributes: jsonAttrs(s.attributes),
          links: (s.links ?? []).map((l: any) => ({
            traceId: l.traceId,
            spanId: l.spanId,
            attributes: jsonAttrs(l.attributes),
          })),
          status: { code: s.status?.code ?? 0, message: s.status?.message },
          serviceName,
          encoding: "json",
        });
      }
    }
  }
  return out;
}

// A minimal protobuf reader for the fields of ExportTraceServiceRequest the tests look at
// (opentelemetry/proto/collector/trace/v1 and trace/v1, common/v1).

type Field = { no: number; wire: number; value: bigint | Buffer };

function* fields(buf: Buffer): Generator<Field> {
  let i = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const no = key >>> 3;
    const wire = key & 7;
    if (wire === 0) yield { no, wire, value: varint() };
    else if (wire === 1) {
      yield { no, wire, value: buf.readBigUInt64LE(i) };
      i += 8;
    } else if (wire === 2) {
      const len = Number(varint());
      yield { no, wire, value: buf.subarray(i, i + len) };
      i += len;
    } else if (wire === 5) {
      yield { no, wire, value: BigInt(buf.readUInt32LE(i)) };
      i += 4;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
}

function pbAnyValue(buf: Buffer): AttrValue {
  for (const f of fields(buf)) {
    if (f.no === 1) return (f.value as Buffer).toString("utf8");
    if (f.no === 2) return (f.value as bigint) !== 0n;
    if (f.no === 3) return Number(BigInt.asIntN(64, f.value as bigint));
    if (f.no === 4) {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(f.value as bigint);
      return b.readDoubleLE(0);
    }
  }
  return "";
}

function pbAttrs(list: Buffer[]): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const kv of list) {
    let key = "";
    let value: AttrValue = "";
    for (const f of fields(kv)) {
      if (f.no === 1) key = (f.value as Buffer).toString("utf8");
      else if (f.no === 2) value = pbAnyValue(f.value as Buffer);
    }
    out[key] = value;
  }
  return out;
}

function pbSpan(buf: Buffer, serviceName: string): ReceivedSpan {
  const span: ReceivedSpan = {
    traceId: "",
    spanId: "",
    parentSpanId: "",
    name: "",
    kind: 0,
    attributes: {},
    links: [],
    status: { code: 0 },
    serviceName,
    encoding: "protobuf",
  };
  const attrs: Buffer[] = [];
  for (const f of fields(buf)) {
    const b = f.value as Buffer;
    if (f.no === 1) span.traceId = b.toString("hex");
    else if (f.no === 2) span.spanId = b.toString("hex");
    else if (f.no === 4) span.parentSpanId = b.toString("hex");
    else if (f.no === 5) span.name = b.toString("utf8");
    else if (f.no === 6) span.kind = Number(f.value);
    else if (f.no === 9) attrs.push(b);
    else if (f.no === 13) {
      const link = { traceId: "", spanId: "", attributes: {} as Record<string, AttrValue> };
      const linkAttrs: Buffer[] = [];
      for (const lf of fields(b)) {
        if (lf.no === 1) link.traceId = (lf.value as Buffer).toString("hex");
        else if (lf.no === 2) link.spanId = (lf.value as Buffer).toString("hex");
        else if (lf.no === 4) linkAttrs.push(lf.value as Buffer);
      }
      link.attributes = pbAttrs(linkAttrs);
      span.links.push(link);
    } else if (f.no === 15) {
      for (const sf of fields(b)) {
        if (sf.no === 2) span.status.message = (sf.value as Buffer).toString("utf8");
        else if (sf.no === 3) span.status.code = Number(sf.value);
      }
    }
  }
  span.attributes = pbAttrs(attrs);
  return span;
}

function fromProtobuf(body: Buffer): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of fields(body)) {
    if (rs.no !== 1) continue;
    let serviceName = "";
    const scopeSpans: Buffer[] = [];
    for (const f of fields(rs.value as Buffer)) {
      if (f.no === 1) {
        const attrs = [...fields(f.value as Buffer)].filter((a) => a.no === 1).map((a) => a.value as Buffer);
        serviceName = String(pbAttrs(attrs)["service.name"] ?? "");
      } else if (f.no === 2) scopeSpans.push(f.value as Buffer);
    }
    for (const ss of scopeSpans) {
      for (const f of fields(ss)) if (f.no === 2) out.push(pbSpan(f.value as Buffer, serviceName));
    }
  }
  return out;
}

// ---- Prometheus text -----------------------------------------------------------------------------

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parse the Prometheus text exposition format into samples (comments skipped). */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    }
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

/** The value of the sample `name` whose labels are exactly `labels` (undefined when absent). */
export function sample(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  return samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want)
    ?.value;
}
