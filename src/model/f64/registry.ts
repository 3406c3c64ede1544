// One float64 reference per cell kind.
import type { CellKind } from '../cells.ts';
import { constCell } from './const.ts';
import { diagCell } from './diag.ts';
import { gruCell } from './gru.ts';
import { linearCell } from './linear.ts';
import { lstmCell } from './lstm.ts';
import { sharedCell } from './shared.ts';
import type { CellReference } from './types.ts';
import { torchSingleLayerCell } from './torch/single.ts';

const CELL_REFERENCES: Readonly<Record<CellKind, CellReference>> = {
  const: constCell,
  shared: sharedCell,
  diag: diagCell,
  gru: gruCell,
  lstm: lstmCell,
  linear: linearCell,
  rnn: torchSingleLayerCell('rnn'),
  rnn_relu: torchSingleLayerCell('rnn_relu'),
  torch_gru: torchSingleLayerCell('torch_gru'),
  torch_lstm: torchSingleLayerCell('torch_lstm'),
};

export function cellReference(kind: CellKind): CellReference {
  return CELL_REFERENCES[kind];
}
