/**
 * `npm run demo [-- --port 8080]`: builds the demo page into out/demo and serves it on 127.0.0.1 with
 * COOP/COEP headers; open the printed address in a browser. LeNet trains in a Worker, on the bundled digits.
 */
import { buildDemo, DEMO_OUT_DIR } from "./build.js";
import { serveDemo } from "./serve.js";

const portIndex = process.argv.indexOf("--port");
const port = portIndex >= 0 ? Number(process.argv[portIndex + 1]) : 8080;
if (!Number.isInteger(port) || port < 0 || port > 65535)
  throw new Error(`--port expects a port number, got ${process.argv[portIndex + 1]}`);

await buildDemo(DEMO_OUT_DIR);
const { url } = await serveDemo(DEMO_OUT_DIR, port);
console.log(`tracegrad demo: ${url} (built in ${DEMO_OUT_DIR}; Ctrl-C stops the server)`);
