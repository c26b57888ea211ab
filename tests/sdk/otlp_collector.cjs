// tests/sdk/otlp_collector.cjs — a test OTLP/HTTP trace collector: decodes each export with
// OpenTelemetry's own generated protobuf definitions (@opentelemetry/otlp-transformer's
// root.js, built from opentelemetry-proto) or as OTLP/JSON, and appends one JSON line per
// request to OUT: {content_type, authorization, resource: {k: v}, spans: [{traceId, spanId,
// parentSpanId (hex), name, kind, start, end (ns, strings), status, attributes: {k: v}}]}.
//
//   node otlp_collector.cjs PORT OUT [FAIL_FIRST_N]
// FAIL_FIRST_N: the first N exports get 503 with Retry-After: 1.
'use strict';
const http = require('http');
const fs = require('fs');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root.js');

const Req = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
const Resp = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;
const [port, out, failFirst] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4] || 0)];
let failed = 0;

const hex = (b) => (b ? Buffer.from(b).toString('hex') : '');
// an AnyValue as a plain value: which field is set says the type
function value(v) {
  if (v.stringValue !== undefined && v.stringValue !== null && v.stringValue !== '') return v.stringValue;
  if (v.intValue !== undefined && v.intValue !== null) return { int: v.intValue.toString() };
  if (v.doubleValue !== undefined && v.doubleValue !== null) return { double: v.doubleValue };
  if (v.boolValue !== undefined && v.boolValue !== null) return { bool: v.boolValue };
  return v.stringValue;
}
function attrs(list, json) {
  const o = {};
  for (const kv of list || []) o[kv.key] = json ? jsonValue(kv.value) : value(kv.value);
  return o;
}
function jsonValue(v) {
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return { int: String(v.intValue) };
  if ('doubleValue' in v) return { double: v.doubleValue };
  if ('boolValue' in v) return { bool: v.boolValue };
  return null;
}

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method !== 'POST' || req.url !== '/v1/traces') {
      res.writeHead(404).end();
      return;
    }
    if (failed < failFirst) {
      failed++;
      res.writeHead(503, { 'Retry-After': '1' }).end();
      return;
    }
    const body = Buffer.concat(chunks);
    const type = req.headers['content-type'] || '';
    const line = { content_type: type, authorization: req.headers.authorization || null, resource: {}, spans: [] };
    try {
      if (type.startsWith('application/x-protobuf')) {
        const msg = Req.decode(body);
        for (const rs of msg.resourceSpans) {
          line.resource = attrs(rs.resource && rs.resource.attributes, false);
          for (const ss of rs.scopeSpans)
            for (const s of ss.spans)
              line.spans.push({
                traceId: hex(s.traceId), spanId: hex(s.spanId), parentSpanId: hex(s.parentSpanId),
                name: s.name, kind: s.kind, start: s.startTimeUnixNano.toString(),
                end: s.endTimeUnixNano.toString(), scope: ss.scope && ss.scope.name,
                status: s.status ? { code: s.status.code || 0, message: s.status.message || '' } : null,
                attributes: attrs(s.attributes, false),
              });
        }
        res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end(Buffer.from(Resp.encode({}).finish()));
      } else {
        const msg = JSON.parse(body.toString());
        for (const rs of msg.resourceSpans) {
          line.resource = attrs(rs.resource && rs.resource.attributes, true);
          for (const ss of rs.scopeSpans)
            for (const s of ss.spans)
              line.spans.push({
                traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId || '', name: s.name,
                kind: s.kind, start: s.startTimeUnixNano, end: s.endTimeUnixNano, scope: ss.scope && ss.scope.name,
                status: s.status || null, attributes: attrs(s.attributes, true),
              });
        }
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      }
    } catch (e) {
      line.error = String(e);
      res.writeHead(400).end();
    }
    fs.appendFileSync(out, JSON.stringify(line) + '\n');
  });
}).listen(port, '127.0.0.1', () => console.log('listening ' + port));
