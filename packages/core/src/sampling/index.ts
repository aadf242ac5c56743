export { decideTraceFlags } from './decide.js';
export { type RootSampler, rootSampler, samplingThreshold } from './root-sampler.js';
export { DEFAULT_SAMPLE_RATE, isSampleRate, parseSampleRate } from './sample-rate.js';
