// @ts-check
// The page's one entry module: look the elements up, start the playground.
import { Playground } from "./app.js";
import { pageConfig } from "./config.js";
import { lookUpElements } from "./dom.js";

const playground = new Playground(lookUpElements(), pageConfig());
playground.start().catch((error) => {
  playground.status.notify(`The playground could not start: ${error.message}`);
  throw error;
});
