// The worked example's figure: per task variant, the recovered fraction ĉ(ℓ_k)/c_k of every task lag over training
// (one line per lag, clipped to [-0.5, 1.5]), with the learned threshold 1/2 of SPEC §12; and below, the epoch each
// lag was learned against its lag, sized by its coefficient.
import { OKABE_ITO, topLevel, type Spec } from '../../src/report/figures/common.ts';

export interface RecoveryCurve {
  variant: string;
  epoch: number;
  lag: number;
  coeff: number;
  /** ĉ(ℓ_k) / c_k. */
  fraction: number;
}

/** A task lag that was learned, at the epoch the study's learned-vs-learnable table gives (src/study/learned.ts). */
export interface LearnedPoint {
  variant: string;
  lag: number;
  coeff: number;
  epoch: number;
}

export function orderFigure(curves: readonly RecoveryCurve[], learned: readonly LearnedPoint[], variants: readonly string[]): Spec {
  const lags = [...new Set(curves.map((c) => c.lag))].sort((a, b) => a - b);
  const color = { field: 'lag', type: 'ordinal', title: 'task lag ℓ_k', scale: { domain: lags, range: lags.map((_, i) => OKABE_ITO[i % OKABE_ITO.length]!) } };
  return topLevel('Order in which a linear RNN learns the task lags (small initialisation)', {
    // The panels' colours mean different things (lag above, variant below): separate scales and legends.
    resolve: { scale: { color: 'independent', shape: 'independent', size: 'independent' }, legend: { color: 'independent' } },
    vconcat: [
      {
        facet: { field: 'variant', type: 'nominal', title: null, sort: [...variants] },
        columns: 2,
        data: { values: curves.map((c) => ({ ...c, fraction: Math.max(-0.5, Math.min(1.5, c.fraction)) })) },
        spec: {
          width: 230,
          height: 170,
          layer: [
            {
              mark: { type: 'line', point: { size: 14 } },
              encoding: {
                x: { field: 'epoch', type: 'quantitative', title: 'epoch' },
                y: { field: 'fraction', type: 'quantitative', title: 'ĉ(ℓ_k) / c_k', scale: { domain: [-0.5, 1.5] } },
                color,
              },
            },
            { mark: { type: 'rule', strokeDash: [4, 3], color: '#555' }, encoding: { y: { datum: 0.5 } } },
          ],
        },
      },
      {
        width: 2 * 230 + 60,
        height: 150,
        data: { values: learned },
        mark: { type: 'point', filled: true, opacity: 0.85 },
        encoding: {
          x: { field: 'lag', type: 'quantitative', title: 'task lag ℓ_k (time steps)', axis: { format: 'd', tickMinStep: 1 }, scale: { nice: false, padding: 12 } },
          y: { field: 'epoch', type: 'quantitative', title: 'learned at epoch' },
          size: { field: 'coeff', type: 'quantitative', title: 'c_k', scale: { range: [30, 300] } },
          shape: { field: 'variant', type: 'nominal', title: 'variant', sort: [...variants] },
          color: { field: 'variant', type: 'nominal', title: 'variant', sort: [...variants], scale: { range: [...OKABE_ITO] } },
        },
      },
    ],
  });
}
