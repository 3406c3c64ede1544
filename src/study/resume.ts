// The settings a study folder was started with, so that `--resume` continues only the same study: `study.json`'s
// config once the study is finished, `study_config.json` (written when it starts, and by a sweep's plan) before.
// The comparison is that of a half-trained cell's checkpoint (util/differences.ts), listing each differing setting.
import { describeDifferences } from '../util/differences.ts';
import { joinPath, readJson, type Storage } from '../io/storage.ts';
import { nodeStorage } from '../io/node-storage.ts';
import { STUDY_FILES } from '../io/study-files.ts';
import type { StudyConfig } from './config.ts';

export const STUDY_CONFIG_FILE = STUDY_FILES.studyConfig;

export interface RecordedSettings {
  file: string;
  config: unknown;
}

/** A JSON file's value, undefined when the file is absent; a file that does not parse is refused with `advice`. */
export async function readJsonFile(file: string, advice = "so the study's settings cannot be checked; repair or remove it, or choose another --out", storage: Storage = nodeStorage()): Promise<unknown> {
  return readJson(storage, file, advice);
}

/** The settings recorded in the study folder `out`, or undefined when it records none. */
export async function recordedSettings(out: string, storage: Storage = nodeStorage()): Promise<RecordedSettings | undefined> {
  const finished = joinPath(out, STUDY_FILES.studyJson);
  const study = (await readJsonFile(finished, undefined, storage)) as { config?: unknown } | undefined;
  if (study?.config !== undefined) return { file: finished, config: study.config };
  const started = joinPath(out, STUDY_CONFIG_FILE);
  const config = await readJsonFile(started, undefined, storage);
  return config === undefined ? undefined : { file: started, config };
}

/** Refuses to continue the study in `out` with settings other than those it was started with, listing them. */
export async function checkSameSettings(out: string, config: StudyConfig, storage: Storage = nodeStorage()): Promise<void> {
  const recorded = await recordedSettings(out, storage);
  if (!recorded) return;
  const differences = describeDifferences(recorded.config, config);
  if (differences.length === 0) return;
  const configFile = joinPath(out, STUDY_CONFIG_FILE);
  const resume = (await readJsonFile(configFile, undefined, storage)) === undefined
    ? `Resume with the settings it was started with (the config in ${recorded.file})`
    : `Resume with the settings it was started with: \`lwin run --resume --config ${configFile} --out ${out}\``;
  throw new Error(
    `${out} holds a study with other settings (${recorded.file}); nothing was run or overwritten. Settings that differ (folder → now):\n` +
      `${differences.map((d) => `  ${d}`).join('\n')}\n` +
      `${resume}; or choose another --out, or use --force instead of --resume to replace it.`,
  );
}

/** `study_config.json`'s text: the settings a study starts with, readable by `lwin run --config`. */
export function settingsJson(config: StudyConfig): string {
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** Records the settings a study starts with (`study_config.json`). */
export async function recordSettings(out: string, config: StudyConfig, storage: Storage = nodeStorage()): Promise<void> {
  await storage.write(joinPath(out, STUDY_CONFIG_FILE), settingsJson(config));
}
