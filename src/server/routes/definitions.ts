import {
  DefinitionBody,
  DefinitionListSchema,
  DefinitionParams,
  DefinitionQuery,
  DefinitionSchema,
  DeployResultSchema,
  EmptyQuery,
  errorResponses,
  GraphSchema,
  WorkflowParams,
} from "../schemas.js";
import type { ServerState, ZodApp } from "../state.js";

/** Declarative definitions: deploy a new version, list versions, read one with its graph. */
export function registerDefinitionRoutes(app: ZodApp, state: ServerState): void {
  const { client } = state;

  app.post(
    "/definitions",
    {
      schema: {
        tags: ["definitions"],
        summary: "Deploy a YAML/JSON workflow definition as its next version",
        description:
          "Runs already going stay on the version they started with. Deploying the same text again " +
          "stores nothing (200, created false). 400 INVALID_DEFINITION names the file, line, column and " +
          "path of every problem.",
        querystring: EmptyQuery,
        body: DefinitionBody,
        response: { 201: DeployResultSchema, 200: DeployResultSchema, ...errorResponses(413, 415) },
      },
    },
    async (request, reply) => {
      const { source, ...options } = request.body;
      const result = await client.deployDefinition(source, options);
      return reply.code(result.created ? 201 : 200).send(result);
    },
  );

  app.get(
    "/definitions",
    {
      schema: {
        tags: ["definitions"],
        summary: "List every stored definition version (without sources)",
        querystring: EmptyQuery,
        response: { 200: DefinitionListSchema, ...errorResponses() },
      },
    },
    async () => ({ definitions: await client.listDefinitions() }),
  );

  app.get(
    "/definitions/:name",
    {
      schema: {
        tags: ["definitions"],
        summary: "A definition's source and graph (latest version unless ?version=)",
        params: DefinitionParams,
        querystring: DefinitionQuery,
        response: { 200: DefinitionSchema, ...errorResponses(404) },
      },
    },
    async (request) => client.getDefinition(request.params.name, request.query.version),
  );

  app.get(
    "/workflows/:name/graph",
    {
      schema: {
        tags: ["definitions"],
        summary: "The graph of a declarative workflow's latest version (404 for code workflows)",
        params: WorkflowParams,
        querystring: EmptyQuery,
        response: { 200: GraphSchema, ...errorResponses(404) },
      },
    },
    async (request) => (await client.getDefinition(request.params.name)).graph,
  );
}
