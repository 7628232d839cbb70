import { Command } from "@commander-js/extra-typings";
import type { Io } from "../io.ts";

export const serve = (io: Io) =>
  new Command("serve")
    .description(
      "serve the HTTP API (POST /v1/messages, GET /v1/messages, /openapi.json) until SIGINT/SIGTERM",
    )
    .option("--host <host>", "address to listen on (env HOST; default 127.0.0.1)")
    .option("--port <port>", "port to listen on, 0 for any free port (env PORT; default 8025)")
    .option(
      "--worker",
      "on Postgres, also send mail from this process (the embedded database always does)",
    )
    .action(async (flags) => (await import("../actions/serve.ts")).runServe(flags, io));
