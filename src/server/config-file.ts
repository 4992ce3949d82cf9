// The server's config file: JSON, or YAML when its name ends in .yaml/.yml. For YAML it also says where
// a setting sits in the file, so a refused value is reported as file:line:column, not only by its path.
import { readFileSync } from "node:fs";
import { isNode, LineCounter, parseDocument } from "yaml";

export interface ConfigFile {
  /** The settings; undefined when the file could not be read or parsed (then `problem` says why). */
  data?: Record<string, unknown>;
  problem?: string;
  /**
   * `file:line:column` of the value at `keys` (or of the nearest enclosing value the file has), for
   * YAML; the file's path for JSON.
   */
  where(keys: readonly (string | number)[]): string;
}

const isYaml = (path: string) => /\.ya?ml$/i.test(path);

export function readConfigFile(path: string): ConfigFile {
  const atFile = { where: () => path };
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    return { ...atFile, problem: `cannot be read (${(error as Error).message})` };
  }
  let data: unknown;
  let where: ConfigFile["where"] = () => path;
  if (isYaml(path)) {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines });
    if (doc.errors.length > 0) return { ...atFile, problem: `not valid YAML (${doc.errors[0].message})` };
    data = doc.toJS();
    where = (keys) => {
      for (let depth = keys.length; depth >= 0; depth--) {
        const node = depth === 0 ? doc.contents : doc.getIn(keys.slice(0, depth), true);
        if (isNode(node) && node.range) {
          const { line, col } = lines.linePos(node.range[0]);
          return `${path}:${line}:${col}`;
        }
      }
      return path;
    };
  } else {
    try {
      data = JSON.parse(text);
    } catch (error) {
      return { ...atFile, problem: `not valid JSON (${(error as Error).message})` };
    }
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    return { ...atFile, problem: "expected an object of settings" };
  }
  return { data: data as Record<string, unknown>, where };
}
