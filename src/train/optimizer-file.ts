// The optimizer state as a safetensors file: one tensor per state and trainable parameter, named
// `<state>.<param>` (e.g. `exp_avg_sq.Wh.weight`), the names a PyTorch Adam/RMSprop state can be exported to, with
// `__metadata__` {step, state_keys[, optimizer, optimizer_config, …]}. Checkpoints, `lwin run`'s
// `<cell>_optimizer.safetensors` and `lwin diagnose --optimizer-state` all read and write it here.
import type { ParamLayout } from '../model/params.ts';
import { describeConfig } from '../model/params.ts';
import { readNamedTensors, writeNamedTensors } from '../io/safetensors.ts';
import type { OptimizerState } from './optim/index.ts';

export function writeOptimizerStateFile(layout: ParamLayout, state: OptimizerState, metadata: Record<string, string> = {}): Uint8Array {
  const tensors = Object.entries(state.tensors).flatMap(([key, flat]) =>
    layout.tensors.filter((t) => t.trainable).map((t) => ({ name: `${key}.${t.name}`, shape: t.shape, data: flat.subarray(t.offset, t.offset + t.size) })),
  );
  return writeNamedTensors(tensors, { ...metadata, step: String(state.step), state_keys: Object.keys(state.tensors).join(',') });
}

/**
 * The state in `bytes` laid out for `layout`. State names come from `state_keys`, or else from the tensor names
 * (files exported from PyTorch): `<state>.<param>` for the model's trainable parameters. A missing tensor or a wrong
 * size is refused, naming it; so is a file of model parameters given in place of the optimizer state.
 */
export function readOptimizerStateFile(layout: ParamLayout, bytes: Uint8Array, source: string): { state: OptimizerState; metadata: Record<string, string> } {
  const saved = readNamedTensors(bytes, source);
  const trainable = layout.tensors.filter((x) => x.trainable);
  const keys = saved.metadata.state_keys ? saved.metadata.state_keys.split(',') : stateKeysFromNames([...saved.tensors.keys()], trainable.map((t) => t.name));
  if (keys.length === 0) throw notOptimizerState(layout, [...saved.tensors.keys()], source);
  const tensors: Record<string, Float32Array> = {};
  for (const key of keys) {
    const flat = new Float32Array(layout.trainableSize);
    for (const t of trainable) {
      const entry = saved.tensors.get(`${key}.${t.name}`);
      if (!entry) throw new Error(`${source} has no ${key}.${t.name}; expected one tensor per state (${keys.join(', ')}) and trainable parameter of the ${describeConfig(layout.config)} model`);
      if (entry.data.length !== t.size) throw new Error(`${source}: ${key}.${t.name} has ${entry.data.length} values, expected ${t.size} (shape [${t.shape.join(',')}])`);
      flat.set(entry.data, t.offset);
    }
    tensors[key] = flat;
  }
  return { state: { step: Number(saved.metadata.step ?? 0), tensors }, metadata: saved.metadata };
}

/** The `<state>` prefixes of names `<state>.<param>` whose `<param>` is one of the model's parameters. */
function stateKeysFromNames(names: readonly string[], params: readonly string[]): string[] {
  const keys = names.flatMap((name) => params.filter((p) => name.endsWith(`.${p}`) && name.length > p.length + 1).map((p) => name.slice(0, -p.length - 1)));
  return [...new Set(keys)];
}

function notOptimizerState(layout: ParamLayout, names: readonly string[], source: string): Error {
  const first = layout.tensors[0]!.name;
  const parameters = names.some((n) => layout.tensors.some((t) => t.name === n));
  return new Error(
    `${source} ${parameters ? `holds model parameters (${names.slice(0, 3).join(', ')}, …), not an optimizer state` : `has no tensors named <state>.<parameter> (it has ${names.slice(0, 3).join(', ') || 'none'}${names.length > 3 ? ', …' : ''})`}: ` +
      `expected one tensor per state and trainable parameter, e.g. exp_avg.${first} and exp_avg_sq.${first} (Adam/AdamW), square_avg.${first} (RMSprop) or momentum_buffer.${first} (SGD with momentum); ` +
      `lwin writes them to <cell>_optimizer.safetensors${parameters ? ' (the parameters go to --weights)' : ''}`,
  );
}
