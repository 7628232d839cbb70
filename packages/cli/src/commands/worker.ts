import { Command } from "@commander-js/extra-typings";
import type { Io } from "../io.ts";
import { withCommonOptions } from "./options.ts";

export const worker = (io: Io) =>
  withCommonOptions(
    new Command("worker")
      .description("send queued mail (Postgres; run any number of these, on any hosts)")
      .option("--concurrency <n>", "messages sent at once by this process (default 10)"),
  ).action(async (flags) => (await import("../actions/worker.ts")).runWorkerCommand(flags, io));
