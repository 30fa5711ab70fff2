// Finding the neurons (METHOD.md section 4).
export { StreamingStats, referenceStats, statsTf, rankNeurons, layerDistribution, benjaminiHochberg, adjustAcross, welchT } from './stats'; // NMD, r, Welch t, BH, ranking
export type { NeuronStats, RankedNeuron } from './stats';
export { studentTTwoSidedP, regularizedIncompleteBeta } from './tdist'; // Student t tail for the Welch test
export { trainProbe, splitRows } from './probe'; // per-layer logistic-regression probe
export type { ProbeOptions, ProbeResult } from './probe';
