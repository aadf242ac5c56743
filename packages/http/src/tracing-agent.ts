import http from 'node:http';
import https from 'node:https';

/** What the agents call for each request they are handed, before its headers are written. */
export type RequestHook = (request: http.ClientRequest) => void;

// One hook per process, even when both the ESM and the CJS build are loaded: an agent made by
// one build calls the installation of whichever build installed it.
const HOOK_KEY = Symbol.for('raceway.http.agent-hook.v1');
type Holder = { [HOOK_KEY]?: RequestHook };

/** Sets (or, with undefined, clears) what the tracing agents do with each request. */
export function setAgentHook(hook: RequestHook | undefined): void {
  const holder = globalThis as Holder;
  if (hook === undefined) delete holder[HOOK_KEY];
  else holder[HOOK_KEY] = hook;
}

function runHook(request: unknown): void {
  const hook = (globalThis as Holder)[HOOK_KEY];
  if (hook === undefined || !(request instanceof http.ClientRequest)) return;
  try {
    hook(request);
  } catch {
    // Instrumentation never breaks the application's request.
  }
}

// `addRequest` is node's per-request entry into an agent, called from the ClientRequest
// constructor after the options' headers are set and before the head is written: on Node 20,
// whose diagnostics channels publish nothing that early, the last moment headers can be added.
// Not in node's type definitions, though every agent library relies on it.
type AddRequest = (this: http.Agent, request: unknown, options: unknown) => void;
const baseAddRequest = (http.Agent.prototype as unknown as { addRequest: AddRequest }).addRequest;

/**
 * An `http.Agent` whose requests carry Raceway's trace headers while `instrumentHttp()` is
 * installed (otherwise a plain agent). For clients that bring their own agent, such as the AWS
 * SDK's `NodeHttpHandler`, on Node versions before 22.12; later versions trace every agent's
 * requests through the `http.client.request.created` channel.
 *
 * @example
 * const httpAgent = new RacewayHttpAgent({ keepAlive: true });
 */
export class RacewayHttpAgent extends http.Agent {
  /** @internal node's per-request entry (see above). */
  addRequest(request: unknown, options: unknown): void {
    runHook(request);
    baseAddRequest.call(this, request, options);
  }
}

/**
 * The `https.Agent` counterpart of {@link RacewayHttpAgent}.
 *
 * @example
 * new S3Client({ requestHandler: new NodeHttpHandler({ httpsAgent: new RacewayHttpsAgent({ keepAlive: true }) }) });
 */
export class RacewayHttpsAgent extends https.Agent {
  /** @internal node's per-request entry (see above). */
  addRequest(request: unknown, options: unknown): void {
    runHook(request);
    baseAddRequest.call(this, request, options);
  }
}

type GlobalAgentHolder = { globalAgent: http.Agent };

/**
 * Makes node's default agents (`http.globalAgent`, `https.globalAgent`: what `http.request`,
 * got and node-fetch use unless given an agent) tracing agents with the same settings, through
 * node's public, assignable `globalAgent` setting. Returns how to put the previous ones back
 * (only where they are still the ones installed here).
 */
export function installGlobalAgents(): () => void {
  const httpModule = http as unknown as GlobalAgentHolder;
  const httpsModule = https as unknown as GlobalAgentHolder;
  const previousHttp = httpModule.globalAgent;
  const previousHttps = httpsModule.globalAgent;
  const tracingHttp = new RacewayHttpAgent(agentOptions(previousHttp));
  const tracingHttps = new RacewayHttpsAgent(agentOptions(previousHttps));
  httpModule.globalAgent = tracingHttp;
  httpsModule.globalAgent = tracingHttps;
  return () => {
    if (httpModule.globalAgent === tracingHttp) httpModule.globalAgent = previousHttp;
    if (httpsModule.globalAgent === tracingHttps) httpsModule.globalAgent = previousHttps;
  };
}

function agentOptions(agent: http.Agent): http.AgentOptions {
  // node's agents keep their constructor options (keepAlive, timeout, scheduling...).
  const options = (agent as unknown as { options?: http.AgentOptions }).options;
  return options !== null && typeof options === 'object' ? { ...options } : {};
}
