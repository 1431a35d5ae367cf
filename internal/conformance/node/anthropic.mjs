// @anthropic-ai/sdk against the gateway's Anthropic door (/v1/messages).
// Usage: node anthropic.mjs stream|tool, with TOLLGATE_URL, TOLLGATE_KEY and
// TOLLGATE_HEADERS (a JSON object of extra headers) set.
import Anthropic from '@anthropic-ai/sdk';
import { env, main } from './scenarios.mjs';

const client = new Anthropic({
  baseURL: env('TOLLGATE_URL'),
  apiKey: env('TOLLGATE_KEY'),
  defaultHeaders: JSON.parse(env('TOLLGATE_HEADERS')),
  maxRetries: 0, // the test counts requests: a retry must not hide a failure
  timeout: 30_000,
});

await main(client, 'claude-haiku-4-5');
