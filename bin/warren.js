#!/usr/bin/env node
// The published entry point: the CLI compiled to dist/ by `npm run build`.
import "../dist/cli/run.js";
