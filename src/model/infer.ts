// Which model a bare state_dict holds, from its tensor names and shapes alone (SPEC §2): the file PyTorch's
// `safetensors.torch.save_file(model.state_dict(), f)` writes carries no lwin metadata, yet each cell's names and
// shapes pin it down: the first W-layer's weight [H, D] gives H and D, the LayerNorm keys say whether LayerNorm
// is on, and the rest of the names say which cell. What the caller knows (command-line flags) narrows the choice.
//
// Genuinely ambiguous files exist, and are reported as such rather than guessed:
// - const without its `s_const` buffer and linear have the same tensors (Wx, Wh, out);
// - shared and diag coincide when H = 1 (Ws.weight [1, D], Us.weight [1, 1] in both);
// - nn.RNN's tanh and ReLU layers (rnn, rnn_relu) have the same tensors.
// PyTorch's layers (SPEC §13) stack G row blocks in weight_ih_l0 [G·H, D], so their H is its rows over G.
import { CELL_KINDS, TORCH_GATES, cellTensors, isTorchCell, layerNormChoices, type ModelConfig } from './cells.ts';
import { describeShape } from './params.ts';

/** What a caller already knows about the model; every given field must hold. */
export type ModelHints = Partial<ModelConfig>;

export interface InferredModels {
  /** Configurations whose tensors match the file exactly (const may lack s_const). */
  matches: ModelConfig[];
  /** When nothing matches: the configuration with the fewest differences, to report them against; null when no cell's first weight is in the file. */
  closest: ModelConfig | null;
}

/** Every configuration consistent with `shapes` (name → shape) and `hints`. */
export function inferModelConfigs(shapes: ReadonlyMap<string, readonly number[]>, hints: ModelHints = {}): InferredModels {
  const scored: { config: ModelConfig; differences: Differences }[] = [];
  for (const cell of hints.cell ? [hints.cell] : CELL_KINDS) {
    for (const layernorm of layerNormChoices(cell).filter((ln) => hints.layernorm === undefined || ln === hints.layernorm)) {
      const config = sizesFromFirstWeight(cell, layernorm, shapes, hints);
      if (config) scored.push({ config, differences: countDifferences(config, shapes) });
    }
  }
  const matches = scored.filter((s) => s.differences.names + s.differences.shapes === 0).map((s) => s.config);
  // Closest: fewest name differences first (the names say which cell and LayerNorm), then fewest wrong shapes.
  const closer = (a: Differences, b: Differences) => b.names < a.names || (b.names === a.names && b.shapes < a.shapes);
  const closest = scored.length ? scored.reduce((a, b) => (closer(a.differences, b.differences) ? b : a)).config : null;
  return { matches, closest: matches.length ? null : closest };
}

/** D and H from the cell's first W-layer weight [H, D] (or from the hints, which win). */
function sizesFromFirstWeight(cell: ModelConfig['cell'], layernorm: boolean, shapes: ReadonlyMap<string, readonly number[]>, hints: ModelHints): ModelConfig | null {
  const first = cellTensors({ cell, inputSize: 1, hiddenSize: 1, layernorm })[0]!.name;
  const shape = shapes.get(first);
  if (shape?.length !== 2 || shape[0]! < 1 || shape[1]! < 1) return null;
  const blocks = isTorchCell(cell) ? TORCH_GATES[cell].length : 1;
  if (shape[0]! % blocks !== 0) return null;
  return { cell, layernorm, hiddenSize: hints.hiddenSize ?? shape[0]! / blocks, inputSize: hints.inputSize ?? shape[1]! };
}

interface Differences {
  /** Missing plus unexpected tensor names. */
  names: number;
  /** Tensors present under the right name with the wrong shape. */
  shapes: number;
}

/** How far `shapes` is from `config`'s tensors (const's s_const may be absent). */
function countDifferences(config: ModelConfig, shapes: ReadonlyMap<string, readonly number[]>): Differences {
  const expected = cellTensors(config);
  const declared = new Set(expected.map((t) => t.name));
  const differences = { names: [...shapes.keys()].filter((n) => !declared.has(n)).length, shapes: 0 };
  for (const t of expected) {
    const got = shapes.get(t.name);
    if (got === undefined) differences.names += config.cell === 'const' && t.name === 's_const' ? 0 : 1;
    else if (describeShape(got) !== describeShape(t.shape)) differences.shapes++;
  }
  return differences;
}

/** "the cell (const or linear)" / "the cell and layernorm": which settings tell the matches apart. */
export function describeAmbiguity(matches: readonly ModelConfig[]): string {
  const fields: [keyof ModelConfig, string][] = [['cell', 'the cell'], ['inputSize', 'D'], ['hiddenSize', 'H'], ['layernorm', 'layernorm']];
  return fields
    .filter(([key]) => new Set(matches.map((m) => m[key])).size > 1)
    .map(([key, label]) => `${label} (${[...new Set(matches.map((m) => String(m[key])))].join(' or ')})`)
    .join(' and ');
}
