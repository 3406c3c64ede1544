// The figure sections of a study report, in reading order: pure (data → vega-lite specs), so the report and the
// browser study page draw the same figures.
import type { StudyReport } from './load.ts';
import type { Figure } from './figures/common.ts';
import { envelopeFitFigures, envelopeOverviewFigure } from './figures/envelope.ts';
import { windowFigure } from './figures/windows.ts';
import { tauCcdfFigure, tauHistogramFigure } from './figures/timescales.ts';
import { alphaFigure, sigmaFigure } from './figures/heavy-tails.ts';
import { requiredSamplesFigure, thresholdFigure } from './figures/detectability.ts';
import { learningCurveFigure, trajectoryFigure } from './figures/training.ts';
import { exactTransportFigure, generalizedFigure } from './figures/transport.ts';
import { recoveryHeatmapFigures, timeToLearnFigure } from './figures/recovery.ts';

/** Heading of the SPEC §12 section (the report puts the learned-vs-learnable table under it). */
export const LEARNED_HEADING = 'What is actually learned';

/** The figure sections of one study, in reading order. */
export function studyFigureSections(study: StudyReport): { heading: string; figures: Figure[] }[] {
  const cells = study.cells;
  const order = cells.map((c) => c.cell);
  return [
    { heading: 'Envelope f̂(ℓ) and its fits', figures: [envelopeOverviewFigure(cells, order), ...envelopeFitFigures(cells, order)] },
    { heading: 'Learnability window', figures: [windowFigure(cells, order), thresholdFigure(cells, order, study.eps, study.budgets), requiredSamplesFigure(cells, order)] },
    { heading: 'Heavy tails of ψ', figures: [alphaFigure(cells, order), sigmaFigure(cells, order)] },
    { heading: 'Unit time scales', figures: [tauCcdfFigure(cells, order), tauHistogramFigure(cells, order)] },
    { heading: 'Transport and generalized envelope', figures: [exactTransportFigure(cells, order), generalizedFigure(cells, order)] },
    { heading: 'Training', figures: [learningCurveFigure(cells, order, study.config.some(([k, v]) => k === 'model.loss' && v === 'ce')), trajectoryFigure(cells, order)] },
    ...(cells.some((c) => c.recovery?.length)
      ? [{ heading: LEARNED_HEADING, figures: [...recoveryHeatmapFigures(cells), timeToLearnFigure(cells, order)] }]
      : []),
  ];
}

