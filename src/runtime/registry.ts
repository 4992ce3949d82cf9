import type { WorkflowDefinition } from "./workflow.js";

/**
 * Registered workflow definitions by name and version. New runs start on the latest registered
 * version; a run replays on the version it started with when that version is still registered.
 */
export class WorkflowRegistry {
  private readonly byName = new Map<string, Map<string, WorkflowDefinition>>();
  private readonly latest = new Map<string, WorkflowDefinition>();

  add(def: WorkflowDefinition): void {
    let versions = this.byName.get(def.name);
    if (!versions) this.byName.set(def.name, (versions = new Map()));
    versions.set(def.version, def);
    this.latest.set(def.name, def);
  }

  get(name: string, version?: string): WorkflowDefinition | undefined {
    if (version === undefined) return this.latest.get(name);
    return this.byName.get(name)?.get(version);
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  list(): { name: string; versions: string[]; latest: string }[] {
    return this.names().map((name) => ({
      name,
      versions: [...this.byName.get(name)!.keys()],
      latest: this.latest.get(name)!.version,
    }));
  }
}
