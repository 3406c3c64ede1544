// The statistics stage (SPEC §8, §9), host-side float64. In order:
//   1. the symmetric α-stable law itself (stable.ts: CDF, density, quantile; stable-random.ts: variates),
//   2. per lag, α̂ and σ̂ of the ψ samples by McCulloch, ECF or Koutrouvelis, with a reliability flag (estimate.ts),
//   3. SNR, N_required and the learnability windows Ĥ_N from the per-lag table (detectability.ts),
//   4. fits: envelope regimes, per-unit time scales, master proportionality, asymptotic laws (fits/).
export { stableCdf, stablePdf, stableQuantile, stableSurvival, MIN_STABLE_ALPHA, MAX_STABLE_ALPHA } from './stable.ts';
export { sampleStable, standardStableVariate } from './stable-random.ts';
export { mccullochCurves, mccullochNu, mccullochIqr, alphaFromNu, mccullochFromSorted, type McCullochCurves } from './mcculloch.ts';
export { ecfEstimate, ecfModulusSquared } from './ecf.ts';
export { koutrouvelisEstimate, koutrouvelisPoints } from './koutrouvelis.ts';
export {
  estimateStable,
  parseAlphaMethod,
  unreliabilityReasons,
  ALPHA_METHODS,
  MIN_ALPHA_SAMPLES,
  type AlphaMethod,
  type StableEstimate,
} from './estimate.ts';
export {
  detectability,
  signalToNoise,
  kappaAlpha,
  requiredSamples,
  learnabilityWindow,
  contiguousLearnabilityWindow,
  PAPER_BUDGETS,
  DEFAULT_EPSILON,
  type LagStatistics,
  type DetectabilityReport,
  type DetectabilityOptions,
} from './detectability.ts';
export { fitLine, type LineFit } from './regression.ts';
export { fitEnvelopeRegimes, type EnvelopeRegimes } from './fits/envelope.ts';
export { fitUnitTimescales, fitUnitTimescale, timescaleCcdf, constGateTimescale, type UnitTimescales } from './fits/timescales.ts';
export { fitMasterProportionality, type MasterRow, type MasterProportionality } from './fits/master.ts';
export {
  asymptoticPrediction,
  envelopeLaw,
  fitPrefactor,
  predictLearnabilityWindow,
  predictRequiredSamples,
  type EnvelopeLaw,
} from './fits/asymptotic.ts';
export { registerStatsCommands } from './cli.ts';
