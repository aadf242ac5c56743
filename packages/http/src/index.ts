export {
  type HttpInstrumentationOptions,
  instrumentHttp,
  uninstrumentHttp,
  uninstrumentHttp as uninstrument,
} from './instrument-http.js';
export { RacewayHttpAgent, RacewayHttpsAgent } from './tracing-agent.js';
