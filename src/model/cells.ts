// The cells' parameter lists (SPEC §2, and §12 for `linear`): PyTorch state_dict keys and shapes of the reference modules.
// Order follows the reference modules' registration order, so a file written here lists tensors the way
// `model.state_dict()` does, except that the const cell's buffer `s_const` comes last (see params.ts).

export type CellKind = 'const' | 'shared' | 'diag' | 'gru' | 'lstm' | 'linear' | TorchCellKind;

/**
 * PyTorch's stock layers (SPEC §13) as single-layer cells under PyTorch's equations and state_dict names:
 * nn.RNN with tanh (`rnn`) or ReLU (`rnn_relu`), nn.GRU (`torch_gru`) and nn.LSTM (`torch_lstm`).
 */
export type TorchCellKind = 'rnn' | 'rnn_relu' | 'torch_gru' | 'torch_lstm';
export const TORCH_CELL_KINDS: readonly TorchCellKind[] = ['rnn', 'rnn_relu', 'torch_gru', 'torch_lstm'];

/** Every cell lwin trains and diagnoses: the paper's five gated cells, the linear RNN of SPEC §12, PyTorch's layers. */
export const CELL_KINDS: readonly CellKind[] = ['const', 'shared', 'diag', 'gru', 'lstm', 'linear', ...TORCH_CELL_KINDS];

/**
 * Whose SPEC §5 window rule a cell's μ follows (SPEC §13): rnn's d as the linear cell's signed, unclamped product
 * Π_j d_j (μ1 = 0), torch_gru as diag (Π leak (1 + Σ rdiag/leak)), torch_lstm as lstm; every other cell its own.
 * The planes of each torch cell are in its rule cell's order (CELL_FACTS).
 */
export function windowRuleCell(cell: CellKind): CellKind {
  if (cell === 'rnn' || cell === 'rnn_relu') return 'linear';
  if (cell === 'torch_gru') return 'diag';
  if (cell === 'torch_lstm') return 'lstm';
  return cell;
}

export function isTorchCell(cell: CellKind): cell is TorchCellKind {
  return (TORCH_CELL_KINDS as readonly string[]).includes(cell);
}

/** Row blocks of weight_ih_l0 / weight_hh_l0 and their biases, in PyTorch's memory order (SPEC §13). */
export const TORCH_GATES: Readonly<Record<TorchCellKind, readonly string[]>> = {
  rnn: ['h'],
  rnn_relu: ['h'],
  torch_gru: ['r', 'z', 'n'],
  torch_lstm: ['i', 'f', 'g', 'o'],
};

/** lwin's own cells (the paper's five and the linear cell), without PyTorch's layers: what the benches time by default. */
export const OWN_CELL_KINDS: readonly CellKind[] = ['const', 'shared', 'diag', 'gru', 'lstm', 'linear'];

/** The paper's five gated cells: the default set of a study. */
export const GATED_CELL_KINDS: readonly CellKind[] = ['const', 'shared', 'diag', 'gru', 'lstm'];

export interface ModelConfig {
  cell: CellKind;
  /** D: features per time step. */
  inputSize: number;
  /** H: hidden units. */
  hiddenSize: number;
  /**
   * LayerNorm over the H units on the candidate pre-activation (SPEC §2); its keys exist only when on. The linear
   * cell has no candidate and no LayerNorm (its step must stay linear): false for it (see cellLayerNorm).
   */
  layernorm: boolean;
  /**
   * K: outputs or classes of the linear readout out.weight [K, H] (SPEC §13's heads). Absent: 1, the paper's scalar
   * readout, and the configuration of every file and study that does not say otherwise.
   */
  outputs?: number;
  /**
   * PyTorch's num_layers L (SPEC §13; its layers only): layer k > 0 reads layer k-1's h (D_k = H), and its tensors
   * are `weight_ih_l{k}` …; the readout reads the last layer. Absent: 1.
   */
  layers?: number;
}

/** L: the layers of a model (PyTorch's stacks; 1 for every other model). */
export function modelLayers(config: Pick<ModelConfig, 'layers'>): number {
  return config.layers ?? 1;
}

/** One tensor of a cell before offsets are assigned. */
export interface TensorDeclaration {
  name: string;
  shape: readonly number[];
  /** False only for the const cell's `s_const` buffer: stored and exported, never trained. */
  trainable: boolean;
}

/**
 * Per-step diagnostic terms of SPEC §4, each [H] per step ([B,T,H] over a batch):
 * - `gate`: the cell's update gate broadcast to H (s for const/shared/diag, z for gru); not in lstm.
 * - `leak`, `rdiag`: retention and first-order diagonal term (const/shared/diag/gru); for linear, `leak` is the
 *   signed diagonal Wh_qq of its Jacobian Wh, and it has no first-order term.
 * - `r`: the GRU reset gate.
 * - `f`, `e`, `cdiag`: the LSTM forget gate, expression factor o(1 - tanh²c) and diagonal cell term.
 */
export type IntermediateName = 'gate' | 'leak' | 'rdiag' | 'r' | 'f' | 'e' | 'cdiag';

/** What the GPU kernels, the float64 twins and the diagnostics all need to agree on about one cell. */
export interface CellFacts {
  /** Words of recurrent state per unit: h, plus c for lstm; state buffers are [B, W, H], W = stateWidth. */
  stateWidth: 1 | 2;
  /**
   * The SPEC §4 terms the cell has, in the order of the intermediate planes [n, B, T, H] the forward kernel
   * writes and every reader (window scan, evaluation's gate statistics, the twins) takes them in.
   */
  intermediates: readonly IntermediateName[];
  /** Name of the LayerNorm module, as in the reference (`ln` for const, `ln_cand` for lstm). */
  layerNormPrefix: string;
  /**
   * Linear layers whose weight keeps its zero initialisation: orthogonal init skips them (the reference's
   * `_skip_orth`), and their weights start at 0 (SPEC §2).
   */
  gateLayersSkippingOrthogonal: readonly string[];
}

/** The one table of per-cell facts; the parameter tensors themselves come from cellTensors below. */
export const CELL_FACTS: Readonly<Record<CellKind, CellFacts>> = {
  const: { stateWidth: 1, intermediates: ['gate', 'leak', 'rdiag'], layerNormPrefix: 'ln', gateLayersSkippingOrthogonal: [] },
  shared: { stateWidth: 1, intermediates: ['gate', 'leak', 'rdiag'], layerNormPrefix: 'ln_h', gateLayersSkippingOrthogonal: ['Ws', 'Us'] },
  diag: { stateWidth: 1, intermediates: ['gate', 'leak', 'rdiag'], layerNormPrefix: 'ln_h', gateLayersSkippingOrthogonal: ['Ws', 'Us'] },
  gru: { stateWidth: 1, intermediates: ['gate', 'leak', 'rdiag', 'r'], layerNormPrefix: 'ln_h', gateLayersSkippingOrthogonal: [] },
  lstm: { stateWidth: 2, intermediates: ['f', 'e', 'cdiag'], layerNormPrefix: 'ln_cand', gateLayersSkippingOrthogonal: [] },
  // layerNormPrefix is never used: the linear cell has no LayerNorm (checkConfig)
  linear: { stateWidth: 1, intermediates: ['leak'], layerNormPrefix: 'ln', gateLayersSkippingOrthogonal: [] },
  // SPEC §13: rnn's whole signed diagonal d = φ'(a) W_hh,qq as `leak`; torch_gru's planes are diag's (gate = 1-z,
  // leak = z, rdiag); torch_lstm's are lstm's. None has a LayerNorm (layerNormPrefix unused).
  rnn: { stateWidth: 1, intermediates: ['leak'], layerNormPrefix: 'ln', gateLayersSkippingOrthogonal: [] },
  rnn_relu: { stateWidth: 1, intermediates: ['leak'], layerNormPrefix: 'ln', gateLayersSkippingOrthogonal: [] },
  torch_gru: { stateWidth: 1, intermediates: ['gate', 'leak', 'rdiag'], layerNormPrefix: 'ln', gateLayersSkippingOrthogonal: [] },
  torch_lstm: { stateWidth: 2, intermediates: ['f', 'e', 'cdiag'], layerNormPrefix: 'ln', gateLayersSkippingOrthogonal: [] },
};

function eachCell<T>(fact: (facts: CellFacts) => T): Readonly<Record<CellKind, T>> {
  return Object.fromEntries(CELL_KINDS.map((cell) => [cell, fact(CELL_FACTS[cell])])) as Record<CellKind, T>;
}

export const LAYERNORM_PREFIX = eachCell((f) => f.layerNormPrefix);
export const GATE_LAYERS_SKIPPING_ORTHOGONAL = eachCell((f) => f.gateLayersSkippingOrthogonal);
/** The SPEC §4 terms per cell, in plane order (CellFacts.intermediates). */
export const INTERMEDIATE_NAMES = eachCell((f) => f.intermediates);
/** Number of intermediate planes per cell. */
export const INTERMEDIATE_COUNT = eachCell((f) => f.intermediates.length);

/** Words of recurrent state per unit: h, plus c for lstm. */
export function stateWidth(cell: CellKind): number {
  return CELL_FACTS[cell].stateWidth;
}

/** The plane of SPEC §4 term `name` in the cell's intermediates; an error when the cell has no such term. */
export function intermediatePlane(cell: CellKind, name: IntermediateName): number {
  const plane = CELL_FACTS[cell].intermediates.indexOf(name);
  if (plane < 0) throw new Error(`the ${cell} cell has no SPEC §4 term "${name}"; its terms are ${CELL_FACTS[cell].intermediates.join(', ')}`);
  return plane;
}

/** Whether a cell can carry the LayerNorm of SPEC §2 (every cell but `linear` and PyTorch's layers). */
export function hasLayerNorm(cell: CellKind): boolean {
  return cell !== 'linear' && !isTorchCell(cell);
}

/** The LayerNorm settings a cell can run with: [false, true], or [false] for the linear cell. */
export function layerNormChoices(cell: CellKind): boolean[] {
  return hasLayerNorm(cell) ? [false, true] : [false];
}

/** The LayerNorm setting a cell runs with when a study or training config asks for `requested`. */
export function cellLayerNorm(cell: CellKind, requested: boolean): boolean {
  return requested && hasLayerNorm(cell);
}

export function isCellKind(value: unknown): value is CellKind {
  return typeof value === 'string' && (CELL_KINDS as readonly string[]).includes(value);
}

/** W-layer (input → H, with bias) then U-layer (H → H, no bias): one gate or candidate pre-activation. */
function gatePair(w: string, u: string, d: number, h: number): TensorDeclaration[] {
  return [
    { name: `${w}.weight`, shape: [h, d], trainable: true },
    { name: `${w}.bias`, shape: [h], trainable: true },
    { name: `${u}.weight`, shape: [h, h], trainable: true },
  ];
}

function layerNorm(prefix: string, h: number, on: boolean): TensorDeclaration[] {
  if (!on) return []; // the reference uses nn.Identity: no keys at all
  return [
    { name: `${prefix}.weight`, shape: [h], trainable: true },
    { name: `${prefix}.bias`, shape: [h], trainable: true },
  ];
}

function readout(h: number, k: number): TensorDeclaration[] {
  return [
    { name: 'out.weight', shape: [k, h], trainable: true },
    { name: 'out.bias', shape: [k], trainable: true },
  ];
}

/** K: outputs (mse) or classes (ce) of the readout [K, H]; 1 (the paper's scalar readout) when not given. */
export function readoutOutputs(config: Pick<ModelConfig, 'outputs'>): number {
  return config.outputs ?? 1;
}

/** Layer k of a PyTorch recurrent module, in its `named_parameters()` order (SPEC §13), G·H rows per tensor. */
function torchLayer(rows: number, d: number, h: number, k: number): TensorDeclaration[] {
  return [
    { name: `weight_ih_l${k}`, shape: [rows, k === 0 ? d : h], trainable: true },
    { name: `weight_hh_l${k}`, shape: [rows, h], trainable: true },
    { name: `bias_ih_l${k}`, shape: [rows], trainable: true },
    { name: `bias_hh_l${k}`, shape: [rows], trainable: true },
  ];
}

/** The tensors of a cell, in reference registration order (trainable first; `s_const` last). */
export function cellTensors(config: ModelConfig): TensorDeclaration[] {
  checkConfig(config);
  const { cell, inputSize: d, hiddenSize: h, layernorm } = config;
  const k = readoutOutputs(config);
  const ln = layerNorm(LAYERNORM_PREFIX[cell], h, layernorm);
  switch (cell) {
    case 'const':
      return [...gatePair('Wx', 'Wh', d, h), ...ln, ...readout(h, k), { name: 's_const', shape: [], trainable: false }];
    case 'shared':
      return [
        ...gatePair('Wx', 'Wh', d, h),
        ...ln,
        { name: 'Ws.weight', shape: [1, d], trainable: true },
        { name: 'Ws.bias', shape: [1], trainable: true },
        { name: 'Us.weight', shape: [1, h], trainable: true },
        ...readout(h, k),
      ];
    case 'diag':
      return [...gatePair('Wx', 'Wh', d, h), ...ln, ...gatePair('Ws', 'Us', d, h), ...readout(h, k)];
    case 'gru':
      return [...gatePair('Wz', 'Uz', d, h), ...gatePair('Wr', 'Ur', d, h), ...gatePair('Wh', 'Uh', d, h), ...ln, ...readout(h, k)];
    case 'lstm':
      return [
        ...gatePair('Wi', 'Ui', d, h),
        ...gatePair('Wf', 'Uf', d, h),
        ...gatePair('Wo', 'Uo', d, h),
        ...gatePair('Wg', 'Ug', d, h),
        ...ln,
        ...readout(h, k),
      ];
    case 'linear':
      return [...gatePair('Wx', 'Wh', d, h), ...readout(h, k)];
    case 'rnn':
    case 'rnn_relu':
    case 'torch_gru':
    case 'torch_lstm':
      return [...Array.from({ length: modelLayers(config) }, (_, layer) => torchLayer(TORCH_GATES[cell].length * h, d, h, layer)).flat(), ...readout(h, k)];
  }
}

export function checkConfig(config: ModelConfig): void {
  if (!isCellKind(config.cell)) {
    throw new Error(`unknown cell "${String(config.cell)}"; expected one of ${CELL_KINDS.join(', ')}`);
  }
  for (const key of ['inputSize', 'hiddenSize'] as const) {
    const v = config[key];
    if (!Number.isInteger(v) || v < 1) throw new Error(`${key} must be a positive integer, got ${v}`);
  }
  if (config.outputs !== undefined && (!Number.isInteger(config.outputs) || config.outputs < 1)) {
    throw new Error(`outputs (the readout's K) must be a positive integer, got ${config.outputs}`);
  }
  if (config.layers !== undefined) {
    if (!Number.isInteger(config.layers) || config.layers < 1) throw new Error(`layers must be a positive integer, got ${config.layers}`);
    if (config.layers > 1 && !isTorchCell(config.cell)) {
      throw new Error(`${config.cell} is one of lwin's single-layer cells; stacked layers (layers ${config.layers}) are PyTorch's rnn, rnn_relu, torch_gru and torch_lstm (SPEC §13)`);
    }
  }
  if (config.layernorm && isTorchCell(config.cell)) {
    throw new Error(`PyTorch's ${config.cell} layer has no LayerNorm (SPEC §13); set layernorm to false`);
  }
  if (config.layernorm && !hasLayerNorm(config.cell)) {
    throw new Error(`the ${config.cell} cell has no LayerNorm (SPEC §12: its step h' = Wh h + Wx x stays linear); set layernorm to false`);
  }
}
