// The openai npm package against the gateway's OpenAI door
// (/v1/chat/completions). Usage: node openai.mjs chat|stream|tool|badkey,
// with TOLLGATE_URL, TOLLGATE_KEY and TOLLGATE_HEADERS (a JSON object of
// extra headers) set. Prints one JSON line for the Go test to assert on.
import OpenAI from 'openai';
import { env } from './scenarios.mjs';

const model = 'claude-haiku-4-5';

function client(apiKey) {
  return new OpenAI({
    baseURL: env('TOLLGATE_URL') + '/v1',
    apiKey,
    defaultHeaders: JSON.parse(env('TOLLGATE_HEADERS')),
    maxRetries: 0, // the test counts requests: a retry must not hide a failure
    timeout: 30_000,
  });
}

const tools = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather in a city.',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
];

// chat: one plain completion.
async function chat() {
  const r = await client(env('TOLLGATE_KEY')).chat.completions.create({
    model,
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'say hello' },
    ],
    max_completion_tokens: 256,
  });
  return { object: r.object, text: r.choices[0].message.content, finish_reason: r.choices[0].finish_reason, usage: r.usage };
}

// stream: a streamed completion with stream_options.include_usage, counting
// the chunks and keeping the usage of the last one.
async function stream() {
  const s = await client(env('TOLLGATE_KEY')).chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'say hello' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  let chunks = 0;
  let usageChunkChoices = null;
  for await (const c of s) {
    chunks++;
    for (const ch of c.choices) {
      text += ch.delta?.content ?? '';
      finish = ch.finish_reason ?? finish;
    }
    if (c.usage) {
      usage = c.usage;
      usageChunkChoices = c.choices.length;
    }
  }
  return { text, finish_reason: finish, usage, chunks, usage_chunk_choices: usageChunkChoices };
}

// tool: a streamed tool call whose arguments arrive in pieces, then its
// result sent back without streaming.
async function tool() {
  const c = client(env('TOLLGATE_KEY'));
  const ask = { role: 'user', content: 'Weather in Paris? [[sim:tool get_weather {"city":"Paris"}]]' };
  const runner = c.chat.completions.stream({ model, tools, messages: [ask] });
  const first = await runner.finalChatCompletion();
  const msg = first.choices[0].message;
  const call = msg.tool_calls?.[0];
  if (!call) {
    return { first: { finish_reason: first.choices[0].finish_reason, message: msg } };
  }
  const second = await c.chat.completions.create({
    model,
    tools,
    messages: [ask, msg, { role: 'tool', tool_call_id: call.id, content: '18C and sunny' }],
  });
  return {
    first: {
      finish_reason: first.choices[0].finish_reason,
      tool: { id: call.id, name: call.function.name, arguments: JSON.parse(call.function.arguments) },
    },
    second: { finish_reason: second.choices[0].finish_reason, text: second.choices[0].message.content, usage: second.usage },
  };
}

// badkey: a wrong key is an AuthenticationError carrying the gateway's
// request id.
async function badkey() {
  try {
    await client('sk-not-a-gateway-key').chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
    return { error: 'no error' };
  } catch (err) {
    return {
      class: err?.constructor?.name,
      status: err?.status ?? null,
      code: err?.code ?? null,
      type: err?.type ?? null,
      request_id: err?.requestID ?? null,
      origin: err?.headers?.get?.('x-tollgate-error-origin') ?? null,
    };
  }
}

const scenarios = { chat, stream, tool, badkey };
const name = process.argv[2];
try {
  const run = scenarios[name];
  if (!run) {
    throw new Error(`unknown scenario ${JSON.stringify(name)}; want one of ${Object.keys(scenarios).join(', ')}`);
  }
  console.log(JSON.stringify(await run()));
} catch (err) {
  console.log(JSON.stringify({ error: String(err), status: err?.status ?? null }));
  process.exitCode = 1;
}
