const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `text` has the shape of a UUID (every id in the workspace is one), any case. */
export function isUuid(text: string): boolean {
  return UUID.test(text);
}
