// results.ts - parses simulation results (the CSV and JSON formats written by
// the gateway's runner, the same as `fmugw sim`) into columns and rows.
//
// CSV: a header of quoted column names, then one line per output time.
// Unquoted fields are numbers (booleans are written 0/1; "nan", "inf",
// "-inf" are accepted); quoted fields are strings (String and Binary
// variables). Integers beyond 2^53 are kept as their text so no digit is lost.

/** One value of a result row. */
export type ResultValue = number | string;

/** One result row: column name -> value. */
export type ResultRow = Record<string, ResultValue>;

/** Parsed results. */
export interface ParsedResults {
  columns: string[];
  rows: ResultRow[];
}

function numberOf(field: string): ResultValue {
  const t = field.trim();
  if (t === "") return "";
  switch (t.toLowerCase()) {
    case "nan":
    case "-nan":
      return NaN;
    case "inf":
    case "+inf":
    case "infinity":
      return Infinity;
    case "-inf":
    case "-infinity":
      return -Infinity;
  }
  const n = Number(t);
  if (Number.isNaN(n)) return t;
  if (/^[-+]?\d+$/.test(t) && !Number.isSafeInteger(n)) return t;
  return n;
}

/** Splits CSV text into records of [text, quoted] fields (RFC 4180: "" is
 *  an escaped quote inside a quoted field; CRLF or LF line ends). */
function records(text: string): Array<Array<[string, boolean]>> {
  const out: Array<Array<[string, boolean]>> = [];
  let rec: Array<[string, boolean]> = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    let field = "";
    let quoted = false;
    if (text[i] === '"') {
      quoted = true;
      i++;
      for (;;) {
        if (i >= n) throw new Error("results CSV: unterminated quoted field");
        const c = text[i]!;
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += c;
        i++;
      }
    } else {
      let j = i;
      while (j < n && text[j] !== "," && text[j] !== "\n" && text[j] !== "\r") j++;
      field = text.slice(i, j);
      i = j;
    }
    rec.push([field, quoted]);
    if (i >= n) {
      out.push(rec);
      break;
    }
    const c = text[i];
    if (c === ",") {
      i++;
      if (i >= n) {
        rec.push(["", false]);
        out.push(rec);
      }
      continue;
    }
    if (c === "\r" && text[i + 1] === "\n") i++;
    if (c === "\r" || c === "\n") {
      i++;
      out.push(rec);
      rec = [];
      continue;
    }
    throw new Error(`results CSV: unexpected character after a quoted field at offset ${i}`);
  }
  return out;
}

/** Parses the CSV results format. Throws on a malformed file (a row with
 *  another number of fields than the header). */
export function parseCsv(text: string): ParsedResults {
  const recs = records(text);
  if (recs.length === 0) return { columns: [], rows: [] };
  const columns = recs[0]!.map(([f]) => f);
  const rows: ResultRow[] = [];
  for (let r = 1; r < recs.length; r++) {
    const rec = recs[r]!;
    if (rec.length === 1 && rec[0]![0] === "" && !rec[0]![1]) continue; // blank line
    if (rec.length !== columns.length)
      throw new Error(`results CSV: row ${r} has ${rec.length} fields, the header ${columns.length}`);
    const row: ResultRow = {};
    for (let c = 0; c < columns.length; c++) {
      const [f, quoted] = rec[c]!;
      row[columns[c]!] = quoted ? f : numberOf(f);
    }
    rows.push(row);
  }
  return { columns, rows };
}

/** Parses the JSON results format {"columns": [...], "rows": [[...], ...]}. */
export function parseJsonResults(text: string): ParsedResults {
  const doc = JSON.parse(text) as { columns?: unknown; rows?: unknown };
  if (!Array.isArray(doc.columns) || !Array.isArray(doc.rows)) throw new Error("results JSON: no columns/rows");
  const columns = doc.columns.map(String);
  const rows = (doc.rows as unknown[][]).map((vals) => {
    const row: ResultRow = {};
    columns.forEach((c, i) => {
      const v = vals[i];
      row[c] = typeof v === "number" || typeof v === "string" ? v : v === null ? NaN : String(v);
    });
    return row;
  });
  return { columns, rows };
}

/** Parses results text of the given format ("csv" or "json"). */
export function parseResults(text: string, format: string): ParsedResults {
  return format === "json" ? parseJsonResults(text) : parseCsv(text);
}
