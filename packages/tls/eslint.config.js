import baseConfig from "@imap-proxy/eslint-config/base";

export default [...baseConfig];
