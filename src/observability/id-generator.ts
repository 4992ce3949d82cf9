import { type IdGenerator, RandomIdGenerator } from "@opentelemetry/sdk-trace-base";

/**
 * Random ids, except for the one span started inside `withIds`: a run's root span must have the ids
 * derived from its run id (so spans written earlier, maybe by another node, already point at it), and
 * the SDK takes span ids only from its IdGenerator. `startSpan` is synchronous, so the override cannot
 * leak into another span.
 */
export class RunIdGenerator implements IdGenerator {
  private readonly random = new RandomIdGenerator();
  private nextTraceId: string | undefined;
  private nextSpanId: string | undefined;

  withIds<T>(traceId: string, spanId: string, start: () => T): T {
    this.nextTraceId = traceId;
    this.nextSpanId = spanId;
    try {
      return start();
    } finally {
      this.nextTraceId = undefined;
      this.nextSpanId = undefined;
    }
  }

  generateTraceId(): string {
    return this.nextTraceId ?? this.random.generateTraceId();
  }

  generateSpanId(): string {
    const id = this.nextSpanId ?? this.random.generateSpanId();
    this.nextSpanId = undefined;
    return id;
  }
}
