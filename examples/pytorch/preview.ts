// A host preview of what `lwin diagnose` reports per layer for this example, from the float64 twin of PyTorch's
// layers (src/model/f64/torch): each layer's SPEC §13 diagonal terms on the held-out set, then the SPEC §5 envelope
// f̂(ℓ) with the window rule of its cell kind. The GPU pipeline computes the same numbers (and ψ, SNR, α̂, Ĥ_N).
//
//   npx tsx examples/pytorch/preview.ts
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpyFile } from '../../src/io/npy.ts';
import { readTorchCheckpoint } from '../../src/io/torch-checkpoint.ts';
import { WINDOW_RULE, torchDiagonalTerms, torchForward, torchForwardLoss } from '../../src/model/f64/torch/index.ts';
import { INTERMEDIATE_NAMES } from '../../src/model/cells.ts';
import { referenceEnvelope } from '../../src/reference/diagnostics/windows.ts';

const HERE = import.meta.dirname;
const model = readTorchCheckpoint(readFileSync(join(HERE, 'model.safetensors')), { source: 'model.safetensors' });
const x = readNpyFile(join(HERE, 'x.npy'));
const y = readNpyFile(join(HERE, 'y.npy'));
const [batch, steps] = x.shape as [number, number, number];
const forward = torchForward(model.params, { x: x.data, batch, steps });
const loss = torchForwardLoss(model.params, forward, { loss: 'ce', lossSteps: 'last', y: y.data });
console.log(`${model.prefix}* (${model.config.cell}, ${model.config.layers} layers, H=${model.config.hiddenSize}) + ${model.readout.weight}: ce loss ${loss.loss.toFixed(4)}, accuracy ${loss.accuracy}`);

const lags = [1, 2, 4, 6, 8, 10, 12, 16, 20, 24, 28, 31];
const hidden = model.config.hiddenSize;
const envelopes = torchDiagonalTerms(model.params, forward).map((terms) => {
  const rule = WINDOW_RULE[model.config.cell];
  const names = Object.keys(terms);
  const planes = new Float64Array(names.length * batch * steps * hidden);
  names.forEach((name, n) => planes.set(terms[name]!, n * batch * steps * hidden));
  if (names.join() !== INTERMEDIATE_NAMES[rule].join()) throw new Error(`terms ${names} do not follow ${rule}'s planes`);
  return referenceEnvelope({ cell: rule, batch, steps, hidden, intermediates: planes }, lags, true);
});
console.log(`\n  ℓ  ${envelopes.map((_, k) => `f̂(ℓ) layer ${k}`.padStart(16)).join('')}`);
lags.forEach((ell, i) => console.log(`${String(ell).padStart(3)}  ${envelopes.map((e) => e[i]!.muL1Mean.toExponential(3).padStart(16)).join('')}`));
