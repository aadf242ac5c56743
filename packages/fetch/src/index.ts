export {
  type FetchInstrumentationOptions,
  instrumentFetch,
  uninstrumentFetch,
  uninstrumentFetch as uninstrument,
} from './instrument-fetch.js';
export { type FetchLike, wrapFetch } from './wrap-fetch.js';
