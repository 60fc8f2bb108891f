#!/usr/bin/env node
// check-responses.mjs - validates every HTTP exchange recorded by the
// integration tests (tests/integration/harness.h, env FMUGW_CONTRACT_LOG)
// against api/openapi.yaml: the path and method exist, the status is
// documented (exactly, by its class "4XX" or by "default"), the content
// type is one the response declares, and the JSON body validates against
// the response schema (OpenAPI 3.1 = JSON Schema 2020-12, with formats).
//
//   node tools/check-responses.mjs [--spec api/openapi.yaml] LOG...
//
// A path that is not in the spec must answer the router's 404 problem, a
// documented path with an undocumented method its 405 problem (the
// framework's contract, stated in the spec's description). Exit status 0
// when every line conforms, 1 with a list of mismatches otherwise (or when
// nothing was recorded), 2 on a usage or setup error.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

let Ajv2020, addFormats, YAML;
try {
  Ajv2020 = (await import("ajv/dist/2020.js")).default;
  addFormats = (await import("ajv-formats")).default;
  YAML = await import("yaml");
} catch (e) {
  console.error(`check-responses: ${e.message}\n(install the Node tools: scripts/deps.sh, or npm ci --prefix tools)`);
  process.exit(2);
}
Ajv2020 = Ajv2020.default ?? Ajv2020;
addFormats = addFormats.default ?? addFormats;

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let specPath = resolve(here, "../api/openapi.yaml");
const logs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--spec") specPath = args[++i];
  else if (args[i] === "-h" || args[i] === "--help") {
    console.log("usage: check-responses.mjs [--spec openapi.yaml] LOG...");
    process.exit(0);
  } else logs.push(args[i]);
}
if (logs.length === 0 && process.env.FMUGW_CONTRACT_LOG) logs.push(process.env.FMUGW_CONTRACT_LOG);
if (logs.length === 0) {
  console.error("check-responses: no log file (argument or FMUGW_CONTRACT_LOG)");
  process.exit(2);
}

const spec = YAML.parse(readFileSync(specPath, "utf8"));
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

// ---- $ref handling -----------------------------------------------------

function pointer(doc, ref) {
  if (!ref.startsWith("#/")) throw new Error(`unsupported $ref ${ref} (only local refs)`);
  let node = doc;
  for (const raw of ref.slice(2).split("/")) {
    const key = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
    node = node?.[key];
    if (node === undefined) throw new Error(`unresolved $ref ${ref}`);
  }
  return node;
}

// Follows $ref chains of non-schema objects (responses, parameters, ...).
function deref(obj) {
  const seen = new Set();
  while (obj && typeof obj === "object" && typeof obj.$ref === "string") {
    if (seen.has(obj.$ref)) throw new Error(`$ref cycle at ${obj.$ref}`);
    seen.add(obj.$ref);
    obj = pointer(spec, obj.$ref);
  }
  return obj;
}

// Schemas: each components.schemas entry becomes its own JSON Schema with
// an absolute $id, and local refs to it are rewritten to that id, so ajv
// resolves (and caches) them across response schemas.
const SCHEMA_ID = "urn:fmugw:openapi:schemas:";
function rewriteRefs(node) {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (!node || typeof node !== "object") return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "$ref" && typeof v === "string") {
      if (v.startsWith("#/components/schemas/")) out[k] = SCHEMA_ID + v.slice("#/components/schemas/".length);
      else throw new Error(`unsupported schema $ref ${v}`);
    } else out[k] = rewriteRefs(v);
  }
  return out;
}

const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, validateFormats: true });
addFormats(ajv);
// OpenAPI's own schema keywords (annotations for the checker's purpose).
ajv.addVocabulary(["example", "discriminator", "xml", "externalDocs"]);
for (const [name, schema] of Object.entries(spec.components?.schemas ?? {})) {
  ajv.addSchema({ ...rewriteRefs(schema), $id: SCHEMA_ID + name });
}
const validators = new Map();
function validatorFor(key, schema) {
  if (!validators.has(key)) {
    const s = rewriteRefs(schema);
    validators.set(key, typeof s.$ref === "string" && Object.keys(s).length === 1 ? ajv.getSchema(s.$ref) : ajv.compile(s));
  }
  return validators.get(key);
}

// ---- routing -------------------------------------------------------------

// Templates sorted so that more literal segments win (/fmu/upload before
// /fmu/{id}), as in the server's router; on a tie, the literal segment that
// comes first.
const isParam = (s) => /^\{[^}]+\}$/.test(s);
const routes = Object.keys(spec.paths ?? {})
  .map((tpl) => {
    const segs = tpl.split("/");
    const re = new RegExp(
      "^" + segs.map((s) => (isParam(s) ? "[^/]+" : s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))).join("/") + "$",
    );
    return { tpl, re, segs, literals: segs.filter((s) => !isParam(s)).length };
  })
  .sort((a, b) => {
    if (a.literals !== b.literals) return b.literals - a.literals;
    for (let i = 0; i < Math.min(a.segs.length, b.segs.length); i++)
      if (isParam(a.segs[i]) !== isParam(b.segs[i])) return isParam(a.segs[i]) ? 1 : -1;
    return 0;
  });

function route(path) {
  return routes.find((r) => r.re.test(path)) ?? null;
}

function mediaBase(ct) {
  return (ct ?? "").split(";")[0].trim().toLowerCase();
}

function mediaMatches(declared, actual) {
  if (declared === actual || declared === "*/*") return true;
  const [dt, ds] = declared.split("/");
  const [at] = actual.split("/");
  return ds === "*" && dt === at;
}

function isJson(ct) {
  return ct === "application/json" || ct.endsWith("+json");
}

// ---- checks ---------------------------------------------------------------

const problemSchema = spec.components?.schemas?.Problem;

function checkProblem(rec, want, why) {
  const out = [];
  if (rec.status !== want) out.push(`${why}: status ${rec.status}, expected the router's ${want}`);
  if (mediaBase(rec.content_type) !== "application/problem+json")
    out.push(`${why}: content type "${rec.content_type}", expected application/problem+json`);
  else if (problemSchema) out.push(...validateBody(rec, "components/schemas/Problem", problemSchema));
  return out;
}

function validateBody(rec, key, schema) {
  if (rec.method === "HEAD") return [];
  if (!("body" in rec)) {
    if ("body_text" in rec) return [`body is not valid JSON: ${JSON.stringify(rec.body_text.slice(0, 200))}`];
    return [];
  }
  let validate;
  try {
    validate = validatorFor(key, schema);
  } catch (e) {
    return [`schema at ${key} does not compile: ${e.message}`];
  }
  if (validate(rec.body)) return [];
  return validate.errors.map((e) => {
    const extra = e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : "";
    return `body${e.instancePath || ""} ${e.message}${extra} (schema ${e.schemaPath})`;
  });
}

function check(rec) {
  const method = String(rec.method ?? "").toLowerCase();
  const r = route(rec.path ?? "");
  if (!r) return { op: `(unknown path)`, errors: checkProblem(rec, 404, "path not in the spec") };
  const item = deref(spec.paths[r.tpl]);
  let op = item[method];
  if (!op && method === "head") op = item.get; // HEAD is answered like GET, without a body
  const opName = `${rec.method} ${r.tpl}`;
  if (!op || !METHODS.includes(method))
    return { op: opName, errors: checkProblem(rec, 405, `method ${rec.method} not in the spec for ${r.tpl}`) };

  const statuses = op.responses ?? {};
  const code = String(rec.status);
  const statusKey = code in statuses ? code : `${code[0]}XX` in statuses ? `${code[0]}XX` : "default" in statuses ? "default" : null;
  if (!statusKey) {
    return { op: opName, errors: [`status ${code} not documented (documented: ${Object.keys(statuses).join(", ")})`] };
  }
  const resp = deref(statuses[statusKey]);
  const content = resp.content ?? {};
  const actual = mediaBase(rec.content_type);
  const declared = Object.keys(content);
  if (declared.length === 0) {
    // e.g. 204: no body expected
    if (actual && rec.method !== "HEAD" && ("body" in rec || "body_text" in rec))
      return { op: opName, errors: [`response ${statusKey} declares no content but the answer is ${actual}`] };
    return { op: opName, errors: [] };
  }
  const media = declared.find((d) => mediaMatches(d.toLowerCase(), actual));
  if (!media) {
    return { op: opName, errors: [`content type "${rec.content_type}" not declared for ${statusKey} (declared: ${declared.join(", ")})`] };
  }
  const schema = content[media].schema;
  if (!schema || !isJson(actual)) return { op: opName, errors: [] };
  const key = `${r.tpl} ${method} ${statusKey} ${media}`;
  return { op: opName, errors: validateBody(rec, key, schema) };
}

// ---- main -------------------------------------------------------------------

const records = [];
for (const file of logs) {
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    console.error(`check-responses: cannot read ${file}: ${e.message}`);
    process.exit(1);
  }
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    try {
      records.push({ where: `${file}:${i + 1}`, rec: JSON.parse(line) });
    } catch (e) {
      records.push({ where: `${file}:${i + 1}`, rec: null, bad: e.message });
    }
  });
}

if (records.length === 0) {
  console.error(
    `check-responses: no responses recorded in ${logs.join(", ")}: run it after the integration tests ` +
      `(ctest runs it as the cleanup of fixture contract_log)`,
  );
  process.exit(1);
}

const mismatches = [];
const seen = new Map(); // operation -> count
for (const { where, rec, bad } of records) {
  if (!rec) {
    mismatches.push({ where, what: "(unparsable log line)", errors: [bad] });
    continue;
  }
  let res;
  try {
    res = check(rec);
  } catch (e) {
    res = { op: "(spec error)", errors: [e.message] };
  }
  seen.set(res.op, (seen.get(res.op) ?? 0) + 1);
  if (res.errors.length) {
    // the same mismatch seen many times (ids differ) is listed once, with a count
    const shape = String(rec.path).replace(/\/[A-Za-z]+_[0-9A-Za-z]{8,}(?=\/|$)/g, "/*");
    const key = [rec.test, rec.method, shape, rec.status, rec.content_type, res.op, ...res.errors].join("\u0000");
    const seenBefore = mismatches.find((m) => m.key === key);
    if (seenBefore) seenBefore.count++;
    else
      mismatches.push({
        key,
        count: 1,
        where,
        what: `${rec.test ?? "?"}: ${rec.method} ${rec.path} -> ${rec.status} ${rec.content_type || "(no content type)"} [${res.op}]`,
        errors: res.errors,
      });
  }
}

const documented = [];
for (const [tpl, item] of Object.entries(spec.paths ?? {}))
  for (const m of METHODS) if (deref(item)[m]) documented.push(`${m.toUpperCase()} ${tpl}`);
const unseen = documented.filter((op) => !seen.has(op));

console.log(`check-responses: ${records.length} responses against ${specPath}`);
for (const [op, n] of [...seen].sort()) console.log(`  ${String(n).padStart(5)}  ${op}`);
if (unseen.length) console.log(`  not exercised by any test: ${unseen.join(", ")}`);

if (mismatches.length) {
  const total = mismatches.reduce((n, m) => n + m.count, 0);
  console.log(`\n${total} response(s) do not match the spec (${mismatches.length} distinct):`);
  for (const m of mismatches) {
    console.log(`- ${m.what}\n    at ${m.where}${m.count > 1 ? ` (and ${m.count - 1} more like it)` : ""}`);
    for (const e of m.errors) console.log(`    ${e}`);
  }
  process.exit(1);
}
console.log("all responses match the spec");
