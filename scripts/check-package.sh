#!/usr/bin/env bash
# Checks the package as a user gets it: `npm pack`, install the tarball into
# an empty temporary project, and there import `warren` and `warren/testing`,
# type-check a small program against the shipped .d.ts files (with the
# repository's tsc), and run the `warren` bin. Needs `npm run build` first.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$repo"
tarball="$(npm pack --silent --pack-destination "$work" | tail -n 1)"
echo "packed $tarball ($(du -k "$work/$tarball" | cut -f1) KiB)"

mkdir "$work/project"
cd "$work/project"
printf '{ "name": "warren-package-check", "private": true, "type": "module" }\n' >package.json
npm install --silent --no-audit --no-fund --ignore-scripts --prefer-offline "$work/$tarball"

node -e 'await import("warren"); console.log("import(\"warren\") ok")'
node -e 'const t = await import("warren/testing"); if (typeof t.findOrStartBroker !== "function") throw new Error("no findOrStartBroker"); console.log("import(\"warren/testing\") ok")'

cp "$repo/examples/package/check.ts" check.ts
cat >tsconfig.json <<JSON
{
  "compilerOptions": {
    "target": "es2024",
    "lib": ["es2024"],
    "module": "nodenext",
    "moduleResolution": "nodenext",
    "strict": true,
    "noEmit": true,
    "skipLibCheck": false,
    "typeRoots": ["$repo/node_modules/@types"],
    "types": ["node"]
  },
  "files": ["check.ts"]
}
JSON
"$repo/node_modules/.bin/tsc" -p tsconfig.json
echo "check.ts type-checks against the shipped types"

version="$(./node_modules/.bin/warren --version)"
expected="$(node -p 'require("'"$repo"'/package.json").version')"
if [ "$version" != "$expected" ]; then
  echo "warren --version printed '$version', expected '$expected'" >&2
  exit 1
fi
echo "warren --version: $version"

# ---- console page shipped (issue 13) ----
# `warren console` serves its page from dist/console/assets: start it from the
# installed package and fetch the page, its script and stylesheet. Serving the
# page needs no broker (the figures then show the management API as unreachable).
cp "$repo/topology/orders.yaml" orders.yaml
node --input-type=module -e '
import { spawn } from "node:child_process";
const child = spawn("./node_modules/.bin/warren", ["console", "orders.yaml", "--port", "0",
  "--url", "amqp://guest:guest@127.0.0.1:1", "--management-url", "http://127.0.0.1:1", "--timeout-ms", "1000"]);
let out = "";
const timer = setTimeout(() => { child.kill(); console.error(`no URL from warren console:\n${out}`); process.exit(1); }, 20000);
child.stderr.on("data", (d) => { out += d; });
child.stdout.on("data", async (d) => {
  out += d;
  const match = /open (http:\/\/[^/\s]+)\//.exec(out);
  if (match === null) return;
  clearTimeout(timer);
  child.stdout.removeAllListeners("data");
  try {
    for (const path of ["/", "/console.js", "/console.css"]) {
      const response = await fetch(match[1] + path);
      if (response.status !== 200) throw new Error(`GET ${path}: ${response.status}`);
    }
    console.log("warren console serves its page from the package");
  } catch (error) {
    console.error(String(error));
    process.exitCode = 1;
  } finally {
    child.kill("SIGTERM");
  }
});
'
# ---- end console page ----
