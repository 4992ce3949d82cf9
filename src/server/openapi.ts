import type { SwaggerTransformObject } from "@fastify/swagger";

type Json = Record<string, any>;

/**
 * Final touches on the generated OpenAPI document. A body schema that accepts null (zod `.nullish()`)
 * means the body may be left out; @fastify/swagger marks every body required, so mark those optional
 * and document the object alone.
 */
export const finishOpenApiDocument: SwaggerTransformObject = (document) => {
  const spec = ("openapiObject" in document ? document.openapiObject : document.swaggerObject) as Json;
  for (const item of Object.values((spec.paths ?? {}) as Json)) {
    for (const operation of Object.values(item as Json)) {
      const body = (operation as Json)?.requestBody;
      const media = body?.content?.["application/json"];
      const anyOf = media?.schema?.anyOf as Json[] | undefined;
      if (!anyOf?.some((s) => s.type === "null")) continue;
      const rest = anyOf.filter((s) => s.type !== "null");
      body.required = false;
      media.schema = rest.length === 1 ? rest[0] : { ...media.schema, anyOf: rest };
    }
  }
  return spec as ReturnType<SwaggerTransformObject>;
};
