/**
 * Serves a built demo folder on 127.0.0.1 with the headers of cross-origin isolation (COOP/COEP), which
 * give the page SharedArrayBuffer and so the kernels their Web Workers.
 */
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, sep } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".gz": "application/octet-stream",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

export interface DemoServer {
  /** The page's address, e.g. http://127.0.0.1:8080/ */
  readonly url: string;
  close(): Promise<void>;
}

/** Serves the files of `dir` on 127.0.0.1:`port` (0: any free port). */
export function serveDemo(dir: string, port = 0): Promise<DemoServer> {
  const root = normalize(dir) + sep;
  const server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? "/", "http://localhost").pathname);
    const file = normalize(join(root, path.endsWith("/") ? `${path}index.html` : path));
    const headers = {
      "Cross-Origin-Opener-Policy": "same-origin",
      "Cross-Origin-Embedder-Policy": "require-corp",
      "Cache-Control": "no-store",
    };
    try {
      if (!file.startsWith(root)) throw new Error("outside the demo folder");
      const body = await readFile(file);
      response.writeHead(200, {
        ...headers,
        "Content-Type": TYPES[extname(file)] ?? "application/octet-stream",
      });
      response.end(body);
    } catch {
      response.writeHead(404, { ...headers, "Content-Type": "text/plain" });
      response.end("not found");
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const { port: bound } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${bound}/`,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}
