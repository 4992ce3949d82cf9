import { type DatabaseIntrospector, type Kysely, PostgresDialect, sql, type TableMetadata } from "kysely";
import { z } from "zod";
import { DirigentError } from "../../core/errors.js";
import type { FaultHook } from "./postgres-tx.js";

// Options of the PostgreSQL store, how a connection URL names the schema, and the Kysely dialect its
// migrations run through.

export interface PostgresStoreOptions {
  /**
   * `postgres://user:password@host:port/database`. A `schema` query parameter
   * (`postgres://…/db?schema=dirigent`) names the schema when the `schema` option does not, so a single
   * URL (`DIRIGENT_DATABASE_URL`) can say it all; it is not passed on to the server.
   */
  connectionString: string;
  /**
   * Schema holding Dirigent's tables, created by `migrate()` if missing (lower-case letters, digits and
   * underscores). Default: the URL's `schema` parameter, else the connection's search_path, usually `public`.
   */
  schema?: string;
  /**
   * Whether `migrate()` creates a named `schema` that does not exist (default true). false: `migrate()`
   * fails with INVALID_OPTIONS (`details: { schema, reason: "schema-missing" }`) and creates nothing, so
   * a mistyped schema is not silently created (the CLI's read-only sessions use this).
   */
  createSchema?: boolean;
  /** Connections in the pool (default 10), plus one for LISTEN while someone subscribes to wake-ups. */
  poolSize?: number;
  /**
   * How long opening a connection may take before it fails (default 10,000 ms). Without a limit, a
   * server that accepts TCP but never answers (or a host that drops packets) holds the caller for as
   * long as the operating system's TCP timeout.
   */
  connectTimeoutMs?: number;
  /**
   * Named fault points at the commit boundary of every transaction, for crash tests only: the hook may
   * throw, or kill the backend `pid`, to simulate a connection lost before or after COMMIT.
   */
  faultPoint?: FaultHook;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export const optionsSchema = z
  .object({
    connectionString: z.string().min(1),
    schema: z.string().regex(SCHEMA_NAME, "must be lower-case letters, digits and underscores").optional(),
    createSchema: z.boolean().optional(),
    poolSize: z.number().int().min(1).max(1_000).optional(),
    connectTimeoutMs: z.number().int().min(1).max(600_000).optional(),
    faultPoint: z.custom<FaultHook>((v) => typeof v === "function").optional(),
  })
  .strict();

/**
 * Move a `schema` query parameter of the connection URL into the options (the server would refuse it
 * as an unknown startup parameter). A schema given both ways must agree.
 */
export function withSchemaFromUrl(options: PostgresStoreOptions): PostgresStoreOptions {
  let url: URL;
  try {
    url = new URL(options.connectionString);
  } catch {
    return options; // not a URL (a socket path, say): nothing to take out
  }
  const fromUrl = url.searchParams.get("schema");
  if (fromUrl === null) return options;
  const invalid = (message: string) =>
    new DirigentError("INVALID_OPTIONS", `invalid PostgreSQL store options: ${message}`, {
      issues: [message],
    });
  if (!SCHEMA_NAME.test(fromUrl)) {
    throw invalid(`connectionString: schema "${fromUrl}" must be lower-case letters, digits and underscores`);
  }
  if (options.schema !== undefined && options.schema !== fromUrl) {
    throw invalid(`schema: "${options.schema}" differs from the URL's schema "${fromUrl}"`);
  }
  url.searchParams.delete("schema");
  return { ...options, connectionString: url.toString(), schema: fromUrl };
}

/**
 * Kysely's PostgreSQL dialect, with introspection limited to one schema. Kysely's Migrator decides
 * whether its bookkeeping tables exist by listing tables. Its own introspector reads every schema of the
 * database, which goes wrong twice over when several Dirigent schemas share a database: it would find
 * another schema's table and skip creating its own, and its catalog query fails ("schema … does not
 * exist") when another installation or test drops its schema at that moment. So the listing asks for this
 * schema's tables only. Kysely's queries are unqualified: they go to this schema through the connection's
 * search_path.
 */
export class SchemaScopedDialect extends PostgresDialect {
  constructor(
    config: ConstructorParameters<typeof PostgresDialect>[0],
    private readonly schemaName: string,
  ) {
    super(config);
  }

  override createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    const schema = this.schemaName;
    const getTables = async (): Promise<TableMetadata[]> => {
      const { rows } = await sql<{ name: string; is_view: boolean }>`
        SELECT c.relname AS name, c.relkind IN ('v', 'm') AS is_view
        FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = ${schema} AND c.relkind IN ('r', 'p', 'v', 'm')
        ORDER BY c.relname`.execute(db);
      return rows.map((r) => ({ name: r.name, schema, isView: r.is_view, columns: [] }));
    };
    return {
      getSchemas: async () => [{ name: schema }],
      getTables,
      getMetadata: async () => ({ tables: await getTables() }),
    };
  }
}
