// The PostgreSQL store, for several nodes over one database: import from "dirigent/postgres".
export { PostgresStore } from "./store/postgres/postgres-store.js";
