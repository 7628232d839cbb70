import type { RouteModule } from "../app.ts";

/** The OpenAPI 3.1 document, generated from the routes' zod schemas. */
export const openapi: RouteModule = (app) => {
  app.get("/openapi.json", { schema: { summary: "This API's OpenAPI 3.1 document" } }, () =>
    app.swagger(),
  );
};
