// Master proportionality (SPEC §9, paper Eq. 26): log N_required(ℓ) against -κ_α(ℓ)·log f̂(ℓ),
// over the lags with N_required > 0 and α̂ > 1 (and f̂ > 0, so the log exists).
import { kappaAlpha } from '../detectability.ts';
import { fitLine, type LineFit } from '../regression.ts';

export interface MasterRow {
  ell: number;
  fHat: number;
  alphaHat: number;
  nRequired: number;
}

export interface MasterProportionality {
  /** The line log N = intercept + slope·(-κ log f̂); undefined with fewer than 2 usable lags or one abscissa. */
  fit: LineFit | undefined;
  /** Lags that entered the fit. */
  ells: number[];
  x: number[];
  y: number[];
}

export function fitMasterProportionality(rows: readonly MasterRow[]): MasterProportionality {
  const used = rows.filter((r) => r.nRequired > 0 && r.alphaHat > 1 && r.fHat > 0);
  const x = used.map((r) => -kappaAlpha(r.alphaHat) * Math.log(r.fHat));
  const y = used.map((r) => Math.log(r.nRequired));
  const distinct = new Set(x).size >= 2;
  return { fit: distinct ? fitLine(x, y) : undefined, ells: used.map((r) => r.ell), x, y };
}
