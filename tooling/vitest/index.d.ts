import type { ViteUserConfig } from "vitest/config";

export declare function packageTestConfig(packageName: string): ViteUserConfig;
