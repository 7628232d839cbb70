import baseConfig from "@imap-proxy/eslint-config/base";

export default [
  ...baseConfig,
  {
    // inject().json() is `any` by design; the tests assert the shapes it returns.
    files: ["tests/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-unsafe-call": "off",
    },
  },
];
