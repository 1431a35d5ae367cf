// Scenarios shared by the Anthropic and the Bedrock SDK clients: both expose
// the same Messages API, so the same calls run through either front door.
// Each scenario returns a plain object that the Go test asserts on.

const prompt = 'say hello';

const tools = [
  {
    name: 'get_weather',
    description: 'Current weather in a city.',
    input_schema: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
    },
  },
];

// stream: one streaming call, collecting every event type and the text.
async function stream(client, model) {
  const events = [];
  let text = '';
  const s = client.messages.stream({ model, max_tokens: 256, messages: [{ role: 'user', content: prompt }] });
  s.on('streamEvent', (ev) => events.push(ev.type));
  s.on('text', (t) => (text += t));
  const msg = await s.finalMessage();
  return { events, text, stop_reason: msg.stop_reason, usage: msg.usage, model: msg.model };
}

// tool: a non-streaming tool-use round trip. The simulator is scripted to
// call get_weather; the tool_result goes back and the answer quotes it.
async function tool(client, model) {
  const ask = { role: 'user', content: 'Weather in Paris? [[sim:tool get_weather {"city":"Paris"}]]' };
  const first = await client.messages.create({ model, max_tokens: 256, tools, messages: [ask] });
  const use = first.content.find((b) => b.type === 'tool_use');
  if (!use) {
    return { first: { stop_reason: first.stop_reason, content: first.content } };
  }
  const second = await client.messages.create({
    model,
    max_tokens: 256,
    tools,
    messages: [
      ask,
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18C and sunny' }] },
    ],
  });
  return {
    first: { stop_reason: first.stop_reason, tool: { id: use.id, name: use.name, input: use.input } },
    second: {
      stop_reason: second.stop_reason,
      text: second.content.filter((b) => b.type === 'text').map((b) => b.text).join(''),
      usage: second.usage,
    },
  };
}

const scenarios = { stream, tool };

// main runs the scenario named on the command line and prints its result as
// one JSON line; a failure prints {"error": ...} and exits 1.
export async function main(client, model) {
  const name = process.argv[2];
  try {
    const run = scenarios[name];
    if (!run) {
      throw new Error(`unknown scenario ${JSON.stringify(name)}; want one of ${Object.keys(scenarios).join(', ')}`);
    }
    console.log(JSON.stringify(await run(client, model)));
  } catch (err) {
    console.log(JSON.stringify({ error: String(err), status: err?.status ?? null }));
    process.exitCode = 1;
  }
}

// env returns a required environment variable.
export function env(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set`);
  }
  return v;
}
