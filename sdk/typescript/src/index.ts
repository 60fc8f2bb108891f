// index.ts - the package entry point: the Client and everything it takes,
// returns and throws.
//
//   import { Client } from "fmugw";
//   const r = await new Client().simulate("model.fmu", { stopTime: 3 });
//   console.log(r.rows.length, r.rows[0]);

export {
  Client,
  VERSION,
  TERMINAL_STATES,
  executeBody,
  isFmuId,
  sha256File,
  type ApiObject,
  type ClientOptions,
  type ExecuteOptions,
  type Json,
  type Page,
  type Results,
  type SimulateOptions,
  type SimulationOptions,
  type SimulationResult,
  type UploadOptions,
  type WaitOptions,
} from "./client.js";
export {
  DEFAULT_BASE_URL,
  defaultConfigPath,
  formatConfig,
  parseConfig,
  readConfigFile,
  resolveConfig,
  writeConfig,
  type ConfigOptions,
  type Profile,
  type ResolvedConfig,
} from "./config.js";
export * from "./errors.js";
export { parseCsv, parseJsonResults, parseResults, type ParsedResults, type ResultRow, type ResultValue } from "./results.js";
