#!/usr/bin/env node
// Runs CHT Core's own DHIS2 export (api/src/services/export/dhis.js, taken
// unmodified from a cht-core checkout or bare git dir at run time) against a
// CouchDB-compatible server, and prints the data value set on stdout the way
// CHT's export controller answers GET /api/v2/export/dhis.
//
//   node test/bench/chtcore/export.js --cht-core <git dir or checkout> \
//     --url <base URL, may carry user:pass> --db medic --data-set <id> \
//     --month YYYY-MM [--org-unit ID] [--timing]
//
// Exit 0 on success; on failure a non-zero status and one line on stderr
// (2: bad command line, 1: anything else). Credentials in --url never appear
// in the output. --timing adds one line on stderr after a success, splitting
// the wall time into Node's start, the harness's setup (copying the files,
// loading the modules, reading the settings, as CHT's api does once at
// startup), the export call and writing the JSON.
//
// CHT Core is AGPL-3.0: nothing of it is kept in this repository. The
// harness copies the files it runs into a temporary directory laid out like
// cht-core's api/src, next to the stand-ins for the modules CHT's api would
// give them (see README.md in this directory), and deletes it on exit.
'use strict';

// CHT's api runs in the node:22-alpine image with no TZ, that is in UTC;
// moment formats the month and completeDate in local time, so run in UTC
// too. Must be set before anything reads the time zone.
process.env.TZ = 'UTC';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

const USAGE = 'usage: export.js --cht-core <git dir or checkout> --url <base URL> --db <name> ' +
  '--data-set <id> --month YYYY-MM [--org-unit <id>] [--timing]';

// The cht-core files the harness runs, by their path in cht-core.
const CHT_FILES = {
  dhis: 'api/src/services/export/dhis.js',
  config: 'api/src/config.js',
};

class UsageError extends Error {}

// redact removes credentials from a URL or from any text holding one.
const redact = (text, secrets) => {
  let out = String(text).replace(/(\w+:\/\/)[^/@\s]*@/g, '$1');
  for (const s of secrets) {
    if (s) {
      out = out.split(s).join('***');
    }
  }
  return out;
};

const parseArgs = argv => {
  const known = new Set(['--cht-core', '--url', '--db', '--data-set', '--month', '--org-unit']);
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    let name = arg;
    let value;
    if (arg === '--timing') {
      args.timing = true;
      continue;
    }
    const eq = name.indexOf('=');
    if (name.startsWith('--') && eq > 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    } else {
      value = argv[++i];
    }
    if (!known.has(name)) {
      throw new UsageError(`unknown argument ${JSON.stringify(arg)}; ${USAGE}`);
    }
    if (value === undefined || value === '') {
      throw new UsageError(`${name} needs a value; ${USAGE}`);
    }
    args[name.slice(2)] = value;
  }
  for (const required of ['cht-core', 'url', 'db', 'data-set', 'month']) {
    if (!args[required]) {
      throw new UsageError(`--${required} is required; ${USAGE}`);
    }
  }
  const m = /^(\d{4})-(\d{2})$/.exec(args.month);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 12) {
    throw new UsageError(`--month ${JSON.stringify(args.month)} is not a month: use YYYY-MM`);
  }
  let url;
  try {
    url = new URL(args.url);
  } catch {
    throw new UsageError(`--url ${JSON.stringify(redact(args.url, []))} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError('--url must be http or https');
  }
  args.year = Number(m[1]);
  args.monthIndex = Number(m[2]) - 1;
  return args;
};

// readCHTFile returns a file of cht-core at HEAD of a bare git dir, or from
// a checkout's work tree.
const readCHTFile = (chtCore, file) => {
  const inTree = path.join(chtCore, file);
  if (fs.existsSync(inTree)) {
    return fs.readFileSync(inTree, 'utf8');
  }
  try {
    return execFileSync('git', ['--git-dir', chtCore, 'show', `HEAD:${file}`], {
      encoding: 'utf8',
      maxBuffer: 16 << 20,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const why = (e.stderr || e.message || '').toString().trim().split('\n')[0];
    throw new Error(`cannot read ${file} from cht-core at ${chtCore}: ${why}`);
  }
};

// The stand-in for api/src/db.js: a PouchDB built as CHT's api builds it
// (pouchdb-core with the http adapter and map/reduce, its fetch wrapper
// adding the X-Medic-Service header, no skip_setup for the medic database).
// CHT also adds pouchdb-find, which the DHIS2 export never calls; its audit
// callback only acts on writes, and the export makes none.
const DB_JS = `'use strict';
const PouchDB = require('pouchdb-core');
PouchDB.plugin(require('pouchdb-adapter-http'));
PouchDB.plugin(require('pouchdb-mapreduce'));
const fetchFn = (url, opts) => {
  opts.headers.set('X-Medic-Service', 'api');
  return PouchDB.fetch(url, opts);
};
const DB = new PouchDB(process.env.CHTCORE_HARNESS_COUCH_URL, { fetch: fetchFn });
DB.setMaxListeners(0);
module.exports.medic = DB;
`;

// The stand-in for @medic/logger (winston in CHT): the same methods, silent,
// so the harness's stdout is the export only.
const LOGGER_JS = `'use strict';
const noop = () => {};
for (const level of ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly', 'log']) {
  module.exports[level] = noop;
}
`;

// layOut writes the cht-core files and the stand-ins into dir, shaped like
// cht-core's api so that dhis.js's relative requires resolve as in CHT.
const layOut = (dir, chtCore) => {
  for (const file of Object.values(CHT_FILES)) {
    const dest = path.join(dir, file);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, readCHTFile(chtCore, file));
  }
  fs.writeFileSync(path.join(dir, 'api/src/db.js'), DB_JS);
  const nm = path.join(dir, 'node_modules');
  fs.mkdirSync(path.join(nm, '@medic/logger'), { recursive: true });
  fs.writeFileSync(path.join(nm, '@medic/logger/index.js'), LOGGER_JS);
  // lodash, moment and pouchdb come from test/node_modules at the versions
  // cht-core's package-lock.json resolves.
  const ours = path.resolve(__dirname, '..', '..', 'node_modules');
  for (const dep of ['lodash', 'moment', 'pouchdb-core', 'pouchdb-adapter-http', 'pouchdb-mapreduce']) {
    const src = path.join(ours, dep);
    if (!fs.existsSync(src)) {
      throw new Error(`${dep} is not installed in ${ours}: run npm ci in test/`);
    }
    fs.symlinkSync(src, path.join(nm, dep), 'dir');
  }
};

// loadSettings reads the app settings as CHT's settings service does: the
// "settings" doc's settings member, or the legacy app_settings of
// _design/medic when there is no settings doc.
const loadSettings = async db => {
  try {
    const doc = await db.medic.get('settings');
    return doc.settings;
  } catch (err) {
    if (err.status === 404) {
      const ddoc = await db.medic.get('_design/medic');
      return ddoc.app_settings || {};
    }
    throw err;
  }
};

// checkDB makes sure the database exists before PouchDB (without
// skip_setup, as in CHT) would create a missing one.
const checkDB = async (couchUrl, fetchFn) => {
  const u = new URL(couchUrl);
  const headers = {};
  if (u.username || u.password) {
    const auth = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
    headers.Authorization = 'Basic ' + Buffer.from(auth).toString('base64');
    u.username = '';
    u.password = '';
  }
  const res = await fetchFn(u.toString(), { headers });
  if (res.status !== 200) {
    const body = await res.text();
    throw new Error(`GET /${u.pathname.split('/').pop()}: HTTP ${res.status} ${body.trim()}`);
  }
};

const describe = err => {
  if (err instanceof Error) {
    return err.message;
  }
  if (err && typeof err === 'object') {
    // CHT's export rejects with { code, message }; PouchDB with
    // { status, name, message }.
    const status = err.code || err.status;
    return [status, err.name, err.message || err.reason].filter(Boolean).join(' ');
  }
  return String(err);
};

const main = async () => {
  const started = process.uptime();
  const args = parseArgs(process.argv.slice(2));
  const base = args.url.replace(/\/+$/, '');
  const couchUrl = `${base}/${encodeURIComponent(args.db)}`;
  const secrets = [];
  const parsed = new URL(base);
  secrets.push(parsed.password, decodeURIComponent(parsed.password));

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chtcore-export-'));
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  process.on('exit', cleanup);
  try {
    layOut(dir, args['cht-core']);
    process.env.CHTCORE_HARNESS_COUCH_URL = couchUrl;
    const db = require(path.join(dir, 'api/src/db.js'));
    await checkDB(couchUrl, require(path.join(dir, 'node_modules/pouchdb-core')).fetch);

    // What CHT's api does at startup (config-watcher: load the settings into
    // config), before any export request.
    const config = require(path.join(dir, CHT_FILES.config));
    config.set(await loadSettings(db));

    // What the export controller does for GET /api/v2/export/dhis: filters
    // { dataSet, date: { from }, orgUnit } with from a timestamp in the month,
    // options.humanReadable false; then res.json(result).
    const dhis = require(path.join(dir, CHT_FILES.dhis));
    const filters = {
      dataSet: args['data-set'],
      date: { from: Date.UTC(args.year, args.monthIndex, 1) },
    };
    if (args['org-unit']) {
      filters.orgUnit = args['org-unit'];
    }
    const exportStart = process.uptime();
    const result = await dhis(filters, { humanReadable: false });
    const exportEnd = process.uptime();
    // Express's res.json with the default "json spaces": JSON.stringify(obj).
    const body = JSON.stringify(result);
    await new Promise((resolve, reject) => {
      process.stdout.write(body, err => (err ? reject(err) : resolve()));
    });
    if (args.timing) {
      const ms = s => Math.round(s * 1000);
      process.stderr.write(`chtcore timing: node_start_ms=${ms(started)} setup_ms=${ms(exportStart - started)} ` +
        `export_ms=${ms(exportEnd - exportStart)} write_ms=${ms(process.uptime() - exportEnd)} ` +
        `values=${result.dataValues.length}\n`);
    }
  } catch (err) {
    throw new Error(redact(describe(err), secrets));
  }
};

main().then(
  () => process.exit(0),
  err => {
    const code = err instanceof UsageError ? 2 : 1;
    process.stderr.write(`chtcore export: ${String(err.message || err).split('\n')[0]}\n`);
    process.exit(code);
  }
);
