export {
  ChannelClientCalls,
  type ChannelHandlers,
  type ChannelInstrumentationSpec,
  type ChannelRequestInit,
  installChannelInstrumentation,
  uninstallChannelInstrumentation,
} from './channel-client.js';
export {
  ClientCall,
  type ClientCallInit,
  type ClientCallResult,
  isTracedCall,
  startClientCall,
} from './client-call.js';
export { type ClientInstrumentationOptions, compileClientPropagateTo } from './client-options.js';
export { eventTarget, pathOf } from './event-fields.js';
export {
  type IncomingHeadersLike,
  incomingHeaders,
  traceHeadersFromRawList,
} from './incoming-headers.js';
export {
  CLIENT_CLOSED_STATUS,
  createServerLifecycle,
  type IncomingRequestLike,
  type OutgoingResponseLike,
  type ServerLifecycle,
  type ServerRequestInit,
  ServerSpan,
  serverSpanOf,
} from './server-lifecycle.js';
