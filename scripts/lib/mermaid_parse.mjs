// Parses a Mermaid diagram read from stdin with Mermaid's own parser, headless (jsdom stands in
// for the browser's DOM that mermaid expects). Exit 0 and "ok <diagram type>" when it parses;
// exit 1 and the parser's message when it does not. Copied next to its node_modules by
// scripts/stack (ensure_mermaid), so the imports resolve there.
import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!DOCTYPE html><body></body>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false });

const text = readFileSync(0, 'utf8');
try {
  const parsed = await mermaid.parse(text);
  console.log(`ok ${parsed.diagramType}`);
} catch (e) {
  console.error(`error: ${e?.message ?? String(e)}`);
  process.exit(1);
}
