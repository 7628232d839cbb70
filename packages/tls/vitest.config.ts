import { packageTestConfig } from "@imap-proxy/vitest-config";
import { defineConfig } from "vitest/config";

export default defineConfig(packageTestConfig("tls"));
