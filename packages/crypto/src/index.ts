export {
  FernetKey,
  InvalidKeyError,
  InvalidTokenError,
  MAX_CLOCK_SKEW_SECONDS,
  decodeUtf8,
  type DecryptOptions,
  type EncryptOptions,
} from "./fernet.ts";
export { Keyring } from "./keyring.ts";
export {
  MissingKeyError,
  UnsafeKeyFileError,
  loadKeyring,
  type KeySourceOptions,
} from "./key-source.ts";
