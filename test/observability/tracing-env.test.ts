import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isDirigentError } from "../../src/core/errors.js";
import { tracingOptionsFromEnv } from "../../src/observability/tracing-env.js";

describe("tracing options from OTEL_* variables", () => {
  it("is off unless configured, and when disabled", () => {
    assert.equal(tracingOptionsFromEnv({}), undefined);
    assert.equal(tracingOptionsFromEnv({ OTEL_SERVICE_NAME: "x" }), undefined);
    assert.equal(
      tracingOptionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" }),
      undefined,
    );
    assert.equal(
      tracingOptionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "none" }),
      undefined,
    );
  });

  it("reads the endpoint, protocol, headers, timeout, service, resource, sampler and batch settings", () => {
    assert.deepEqual(
      tracingOptionsFromEnv(
        {
          OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/",
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
          OTEL_EXPORTER_OTLP_HEADERS: "api-key=abc,x-team=core",
          OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-team=orders",
          OTEL_EXPORTER_OTLP_TIMEOUT: "5000",
          OTEL_SERVICE_NAME: "orders",
          OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=prod,service.version=1.2",
          OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
          OTEL_TRACES_SAMPLER_ARG: "0.25",
          OTEL_BSP_SCHEDULE_DELAY: "200",
        },
        { serviceName: "dirigent", traceNamespace: "prod" },
      ),
      {
        serviceName: "orders",
        traceNamespace: "prod",
        exporter: {
          url: "http://collector:4318/v1/traces",
          protocol: "http/json",
          headers: { "api-key": "abc", "x-team": "orders" },
          timeoutMs: 5000,
        },
        resourceAttributes: { "deployment.environment": "prod", "service.version": "1.2" },
        sampleRatio: 0.25,
        batch: { scheduleDelayMs: 200 },
      },
    );
  });

  it("uses the traces endpoint as given, protobuf by default, and the console exporter on request", () => {
    assert.deepEqual(tracingOptionsFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://x/custom" }), {
      exporter: { url: "https://x/custom", protocol: "http/protobuf" },
    });
    assert.deepEqual(tracingOptionsFromEnv({ OTEL_TRACES_EXPORTER: "otlp" }), {
      exporter: { url: "http://localhost:4318/v1/traces", protocol: "http/protobuf" },
    });
    assert.deepEqual(tracingOptionsFromEnv({ OTEL_TRACES_EXPORTER: "console" }), { exporter: "console" });
    assert.equal(
      tracingOptionsFromEnv({ OTEL_TRACES_EXPORTER: "otlp", OTEL_TRACES_SAMPLER: "always_off" })?.sampleRatio,
      0,
    );
  });

  it("refuses what it cannot honour, with INVALID_OPTIONS", () => {
    const refused = (env: Record<string, string>, pattern: RegExp) =>
      assert.throws(
        () => tracingOptionsFromEnv(env),
        (e: unknown) => isDirigentError(e) && e.code === "INVALID_OPTIONS" && pattern.test(e.message),
      );
    refused({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, /grpc/);
    refused({ OTEL_TRACES_EXPORTER: "zipkin" }, /zipkin/);
    refused(
      { OTEL_TRACES_EXPORTER: "otlp", OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "2" },
      /between 0 and 1/,
    );
    refused({ OTEL_TRACES_EXPORTER: "otlp", OTEL_BSP_MAX_QUEUE_SIZE: "-1" }, /OTEL_BSP_MAX_QUEUE_SIZE/);
  });
});
