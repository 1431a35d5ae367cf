// @anthropic-ai/bedrock-sdk against the gateway's Bedrock door
// (/model/{id}/invoke[-with-response-stream]). AWS signing is skipped and the
// gateway key travels in an x-api-key header, as Claude Code does in Bedrock
// mode with CLAUDE_CODE_SKIP_BEDROCK_AUTH=1.
// Usage: node bedrock.mjs stream|tool, with TOLLGATE_URL, TOLLGATE_KEY and
// TOLLGATE_HEADERS (a JSON object of extra headers) set.
import { AnthropicBedrock } from '@anthropic-ai/bedrock-sdk';
import { env, main } from './scenarios.mjs';

const client = new AnthropicBedrock({
  baseURL: env('TOLLGATE_URL'),
  awsRegion: 'us-east-1',
  skipAuth: true,
  defaultHeaders: { ...JSON.parse(env('TOLLGATE_HEADERS')), 'x-api-key': env('TOLLGATE_KEY') },
  maxRetries: 0,
  timeout: 30_000,
});

await main(client, 'us.anthropic.claude-haiku-4-5-20251001-v1:0');
