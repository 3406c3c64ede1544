// What a cell's WGSL snippets are generated from: the cell, its options, and how to name a parameter's offset.
import type { CellKind } from '../../src/model/cells.ts';

export interface StepContext {
  cell: CellKind;
  layernorm: boolean;
  /** LayerNorm module name of this cell (`ln`, `ln_h`, `ln_cand`). */
  lnPrefix: string;
  /** WGSL expression for the flat-buffer offset of a tensor, e.g. o('Wx.weight') → 'params.o_Wx_weight'. */
  o: (tensor: string) => string;
}
