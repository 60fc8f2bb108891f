#!/usr/bin/env node
// simulate.mjs - runs an FMU on the FMU Gateway with the TypeScript SDK and
// prints how many rows came back and the last one; with a third argument the
// results are also written there as CSV.
//
//   FMUGW_BASE_URL=... FMUGW_API_KEY=... node simulate.mjs MODEL.fmu|FMU_ID [STOP_TIME] [OUT.csv]
//
// The gateway URL and key come from the environment or ~/.fmu_gateway/config.
import { writeFileSync } from "node:fs";
import { Client, FmugwError, JobFailedError } from "fmugw";

const [model, stop = "3", out] = process.argv.slice(2);
if (!model) {
  console.error("usage: node simulate.mjs MODEL.fmu|FMU_ID [STOP_TIME] [OUT.csv]");
  process.exit(2);
}

try {
  const client = new Client();
  const result = await client.simulate(model, {
    stopTime: Number(stop),
    onProgress: (sent, total) => process.stderr.write(`\rupload ${Math.round((100 * sent) / total)}%`),
    onStatus: (job) => process.stderr.write(`\rjob ${job.job_id}: ${job.status}      `),
  });
  process.stderr.write("\n");
  console.log(`${result.rows.length} rows (columns: ${result.columns.join(", ")})`);
  console.log("last row:", JSON.stringify(result.rows.at(-1)));
  console.log(`job ${result.jobId}: ${result.job.credits_charged} credit(s)`);
  if (out) writeFileSync(out, result.text);
} catch (e) {
  if (e instanceof JobFailedError) console.error(`the simulation ${e.status}: ${e.message}`);
  else if (e instanceof FmugwError) console.error(`error: ${e.message}`);
  else throw e;
  process.exit(1);
}
