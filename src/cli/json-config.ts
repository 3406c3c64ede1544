// Settings files given to --config: read, parsed and checked to be one JSON object, with messages that name the file.
import { readFile } from 'node:fs/promises';

/** The JSON object in `path`; `what` names it in messages ("the study config"), `example` shows a valid one. */
export async function readJsonObject(path: string, what: string, example: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${what} ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${what} ${path} is not valid JSON: ${(error as Error).message}; fix the file (settings are one JSON object, e.g. ${example})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    const got = Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : `a ${typeof parsed}`;
    throw new Error(`${what} ${path} holds ${got}; expected a JSON object of settings, e.g. ${example}`);
  }
  return parsed as Record<string, unknown>;
}
