// The AWS SDK v3 (an SQS client) configured as the README says, called from a traced service's
// request: a local server on loopback answers as SQS does (AWS JSON 1.0 protocol) and is itself
// a traced service, so the call's headers, events and returned clock can all be checked.
import { createHash, randomUUID } from 'node:crypto';
import type http from 'node:http';
import { SendMessageCommand, SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import { type RacewayOptions, Tracer } from '@raceway/core';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  instrumentHttp,
  RacewayHttpAgent,
  RacewayHttpsAgent,
  uninstrumentHttp,
} from '../src/index.js';
import {
  allSpans,
  type Received,
  type RunningServer,
  receivedTraceHeaders,
  selfSignedCertificate,
  serviceOptions,
  startTestCollector,
  startTracedServer,
  type TestCollector,
} from './fixtures.js';

const ONE_OF_EACH = { 'x-raceway-trace-id': 1, 'x-raceway-vc': 1, traceparent: 1, tracestate: 0 };
const QUEUE_PATH = '/000000000000/orders';

/** What the SQS stand-in was sent: the operation and the trace headers. */
interface SqsRequest {
  target: string | undefined;
  headers: Received;
}

let collector: TestCollector;
let tls: { key: string; cert: string };
let callerOptions: RacewayOptions;
let sqsOptions: RacewayOptions;
let plainSqs: RunningServer;
let tlsSqs: RunningServer;
const sqsRequests: SqsRequest[] = [];

/** Answers SendMessage as SQS does: the message id and the MD5 of the body, which the SDK checks. */
function answerLikeSqs(req: http.IncomingMessage, res: http.ServerResponse): void {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    body += chunk;
  });
  req.on('end', () => {
    const header = req.headers['x-amz-target'];
    const target = typeof header === 'string' ? header : undefined;
    sqsRequests.push({ target, headers: receivedTraceHeaders(req) });
    if (target !== 'AmazonSQS.SendMessage') {
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify({ __type: 'com.amazonaws.sqs#InvalidAction', message: target }));
      return;
    }
    const { MessageBody } = JSON.parse(body) as { MessageBody: string };
    res.writeHead(200, {
      'content-type': 'application/x-amz-json-1.0',
      'x-amzn-requestid': randomUUID(),
    });
    res.end(
      JSON.stringify({
        MessageId: randomUUID(),
        MD5OfMessageBody: createHash('md5').update(MessageBody).digest('hex'),
      }),
    );
  });
}

beforeAll(async () => {
  collector = await startTestCollector();
  tls = selfSignedCertificate();
  callerOptions = serviceOptions(collector, 'orders');
  sqsOptions = serviceOptions(collector, 'sqs');
  plainSqs = await startTracedServer(sqsOptions, answerLikeSqs);
  tlsSqs = await startTracedServer(sqsOptions, answerLikeSqs, tls);
  instrumentHttp();
});

afterAll(async () => {
  uninstrumentHttp();
  await plainSqs?.close();
  await tlsSqs?.close();
  await Tracer.fromOptions(callerOptions).shutdown();
  await Tracer.fromOptions(sqsOptions).shutdown();
  await collector?.close();
});

type Setup = 'NodeHttpHandler over http' | 'NodeHttpHandler over https' | 'handler options';

/** The SQS endpoint and the client configuration of each way the README shows. */
const SETUPS: Record<Setup, () => { endpoint: string; config: SQSClientConfig }> = {
  'NodeHttpHandler over http': () => ({
    endpoint: plainSqs.url,
    config: {
      requestHandler: new NodeHttpHandler({
        httpAgent: new RacewayHttpAgent({ keepAlive: true }),
      }),
    },
  }),
  'NodeHttpHandler over https': () => ({
    endpoint: tlsSqs.url,
    config: {
      requestHandler: new NodeHttpHandler({
        httpsAgent: new RacewayHttpsAgent({ keepAlive: true, ca: tls.cert }),
      }),
    },
  }),
  // The SDK also takes the handler's options alone, and makes the NodeHttpHandler itself.
  'handler options': () => ({
    endpoint: plainSqs.url,
    config: { requestHandler: { httpAgent: new RacewayHttpAgent({ keepAlive: true }) } },
  }),
};

/** A traced service whose request handler sends one SQS message (an order placed). */
function startOrdersService(sqs: SQSClient, endpoint: string): Promise<RunningServer> {
  return startTracedServer(callerOptions, async (_req, res) => {
    try {
      const sent = await sqs.send(
        new SendMessageCommand({ QueueUrl: `${endpoint}${QUEUE_PATH}`, MessageBody: 'order 42' }),
      );
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ messageId: sent.MessageId }));
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error));
    }
  });
}

describe.each(Object.keys(SETUPS) as Setup[])('SQS client, %s', (setup) => {
  it('sends the trace headers, records the call and merges the clock SQS sends back', async () => {
    const { endpoint, config } = SETUPS[setup]();
    const sqs = new SQSClient({
      ...config,
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-real-secret' },
      maxAttempts: 1,
    });
    const orders = await startOrdersService(sqs, endpoint);
    sqsRequests.length = 0;
    try {
      const response = await fetch(`${orders.url}/orders/42`, { method: 'POST' });
      const answer = await response.text();
      expect(response.status, answer).toBe(200);
      // The SDK parsed SQS's answer: the call really went through the service's protocol.
      expect(JSON.parse(answer)).toEqual({ messageId: expect.any(String) });
      expect(sqsRequests).toHaveLength(1);
      const [sent] = sqsRequests;
      expect(sent!.target).toBe('AmazonSQS.SendMessage');
      expect(sent!.headers.counts).toEqual(ONE_OF_EACH);

      const traceId = response.headers.get('x-raceway-trace-id');
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      const trace = await collector.settle(traceId!, [callerOptions, sqsOptions], 2);
      const spans = allSpans(trace);
      const handler = spans.find(
        (s) => s.kind === 'server' && s.service === callerOptions.serviceName,
      );
      const call = spans.find(
        (s) => s.kind === 'client' && s.service === callerOptions.serviceName,
      );
      const queue = spans.find((s) => s.kind === 'server' && s.service === sqsOptions.serviceName);
      expect(call?.parent_span_id).toBe(handler?.span_id);
      // SQS's side joined the trace as a child of the call, the span its traceparent named.
      expect(queue?.parent_span_id).toBe(call!.span_id);
      expect(sent!.headers.traceparent).toContain(call!.span_id);

      const { host } = new URL(endpoint);
      const target = { method: 'POST', url: `${endpoint}/`, host };
      expect(call!.events.find((e) => e.kind === 'request_sent')?.data).toMatchObject(target);
      const received = call!.events.find((e) => e.kind === 'response_received');
      expect(received?.data).toMatchObject({ ...target, status: 200, remote_clock: true });
      // SQS's clock came back: what the handler does next is ordered after the message was taken.
      expect(Object.keys(received!.clock)).toContainEqual(
        expect.stringMatching(new RegExp(`^${sqsOptions.serviceName}#`)),
      );
    } finally {
      sqs.destroy();
      await orders.close();
    }
  });
});
