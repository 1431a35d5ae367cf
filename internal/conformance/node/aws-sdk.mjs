// @aws-sdk/client-bedrock-runtime (AWS SDK for JavaScript v3) against the
// gateway's Bedrock door, with the client's DEFAULT request handler. For
// bedrock-runtime that handler is NodeHttp2Handler: it speaks HTTP/2 with
// prior knowledge to an http:// endpoint, so this script fails against a
// gateway that serves only HTTP/1.1 (ERR_HTTP2_ERROR: Protocol error).
//
// The gateway key travels as a bearer token, as AWS_BEARER_TOKEN_BEDROCK
// makes the SDK send it; the static AWS credentials are fake and unused.
// Usage: node aws-sdk.mjs invoke|stream, with TOLLGATE_URL, TOLLGATE_KEY and
// TOLLGATE_HEADERS (a JSON object of extra headers) set.
import {
  BedrockRuntimeClient,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { env } from './scenarios.mjs';

const model = 'us.anthropic.claude-haiku-4-5-20251001-v1:0';
const extraHeaders = JSON.parse(env('TOLLGATE_HEADERS'));

const client = new BedrockRuntimeClient({
  region: 'us-east-1',
  endpoint: env('TOLLGATE_URL'),
  credentials: { accessKeyId: 'AKIDFAKEFAKEFAKEFAKE', secretAccessKey: 'fake-secret-not-used' },
  token: { token: env('TOLLGATE_KEY') },
  authSchemePreference: ['httpBearerAuth'],
  maxAttempts: 1, // the test counts requests: a retry must not hide a failure
});

// Extra headers (the access-rule secret, tags, session id) go on every
// request, as defaultHeaders do in the Anthropic SDKs.
client.middlewareStack.add(
  (next) => async (args) => {
    Object.assign(args.request.headers, extraHeaders);
    return next(args);
  },
  { step: 'build', name: 'tollgateHeaders' },
);

function body() {
  return JSON.stringify({
    anthropic_version: 'bedrock-2023-05-31',
    max_tokens: 256,
    messages: [{ role: 'user', content: 'say hello' }],
  });
}

// invoke: one InvokeModel call; the answer is the Anthropic message JSON.
async function invoke() {
  const out = await client.send(
    new InvokeModelCommand({ modelId: model, contentType: 'application/json', accept: 'application/json', body: body() }),
  );
  const msg = JSON.parse(new TextDecoder().decode(out.body));
  return {
    text: msg.content.filter((b) => b.type === 'text').map((b) => b.text).join(''),
    stop_reason: msg.stop_reason,
    usage: msg.usage,
  };
}

// stream: one InvokeModelWithResponseStream call, decoding each event-stream
// chunk into the Anthropic event it carries.
async function stream() {
  const out = await client.send(
    new InvokeModelWithResponseStreamCommand({ modelId: model, contentType: 'application/json', body: body() }),
  );
  const events = [];
  let text = '';
  let stop_reason = null;
  let usage = {};
  for await (const item of out.body) {
    if (!item.chunk) {
      throw new Error(`unexpected stream item ${JSON.stringify(Object.keys(item))}`);
    }
    const ev = JSON.parse(new TextDecoder().decode(item.chunk.bytes));
    events.push(ev.type);
    if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
    if (ev.type === 'message_delta') {
      stop_reason = ev.delta.stop_reason;
      usage = { ...usage, ...ev.usage };
    }
  }
  return { events, text, stop_reason, usage };
}

const scenarios = { invoke, stream };
const name = process.argv[2];
try {
  const run = scenarios[name];
  if (!run) {
    throw new Error(`unknown scenario ${JSON.stringify(name)}; want one of ${Object.keys(scenarios).join(', ')}`);
  }
  console.log(JSON.stringify({ ...(await run()), handler: client.config.requestHandler?.constructor?.name ?? null }));
} catch (err) {
  console.log(JSON.stringify({ error: String(err), code: err?.code ?? null, status: err?.$metadata?.httpStatusCode ?? null }));
  process.exitCode = 1;
} finally {
  client.destroy();
}
