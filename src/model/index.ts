// Model description: the per-cell facts (CELL_FACTS: state width, SPEC §4 terms in plane order, LayerNorm name),
// which tensors a cell has, where they live in the flat parameter array, and how they start.
//
//   buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm }) → ParamLayout
//       ordered TensorSpec[] {name, shape, offset, size, trainable}; PyTorch state_dict names (SPEC §2);
//       offsets are multiples of 4 elements (vec4 loads); trainable tensors are the prefix [0, trainableSize),
//       the const cell's non-trainable `s_const` follows.
//   new TensorViews(layout, array).get('Wx.weight') → a subarray view of one tensor.
//   initParams(layout, { seed, constS = 0.05, orthogonal = true, scale = 1 }) → Float64Array (SPEC §2 initialisation).
export {
  CELL_FACTS,
  CELL_KINDS,
  INTERMEDIATE_COUNT,
  INTERMEDIATE_NAMES,
  GATED_CELL_KINDS,
  GATE_LAYERS_SKIPPING_ORTHOGONAL,
  LAYERNORM_PREFIX,
  cellTensors,
  cellLayerNorm,
  checkConfig,
  hasLayerNorm,
  intermediatePlane,
  isCellKind,
  layerNormChoices,
  stateWidth,
  type CellFacts,
  type IntermediateName,
  type CellKind,
  type ModelConfig,
  type TensorDeclaration,
} from './cells.ts';
export {
  PARAM_ALIGNMENT,
  TensorViews,
  alignUp,
  allocateParams,
  buildLayout,
  describeConfig,
  describeShape,
  describeTensors,
  findTensor,
  getTensorSpec,
  maskTrainable,
  shapeSize,
  type FloatArray,
  type ParamLayout,
  type TensorSpec,
} from './params.ts';
export { DEFAULT_CONST_S, clipGateValue, initParams, linearFanIn, logit, orthogonalWeights, type InitOptions } from './init.ts';
